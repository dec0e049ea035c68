# Extra reference cases for meting's design-based core, computed with R's survey package.
#
# Usage (from the repository root):  Rscript tests/reference/make_reference.R
# Needs: r-base-core, r-cran-survey (4.1-1 was used), r-cran-jsonlite.
# Writes tests/reference/survey/extra_reference.json and tests/reference/survey/apiclus2.csv.
# Each case holds the exact R call, a machine-readable description of the same design, weighting
# and estimator (read by tests/test_against_r.py), and R's numbers (17 significant digits).
# One line per case says what it checks (as survey's tests/README does).

suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
data(api)
out_dir <- file.path("tests", "reference", "survey")
write.csv(cbind(row_id = seq_len(nrow(apiclus2)), apiclus2),
          file.path(out_dir, "apiclus2.csv"), row.names = FALSE, na = "")

cases <- list()
add <- function(id, what, call, data, design, estimator, expected, weighting = list(),
                lonely = "fail") {
  cases[[length(cases) + 1]] <<- list(
    id = id, checks = what, call = call, data = data,
    design = c(design, list(lonely_psu = lonely)), weighting = weighting,
    estimator = estimator, expected = expected)
}
stat <- function(x) list(estimate = unname(as.vector(coef(x))), se = unname(as.vector(SE(x))))
stat_deff <- function(x) c(stat(x), list(deff = unname(as.vector(deff(x)))))
by_stat <- function(x, cols) {
  df <- as.data.frame(x)
  by <- setdiff(names(df), c(cols, paste0("se.", cols), "se"))
  list(groups = lapply(df[, by, drop = FALSE], as.character), estimate = as.vector(t(as.matrix(df[, cols, drop = FALSE]))),
       se = as.vector(t(as.matrix(df[, if (length(cols) == 1) "se" else paste0("se.", cols),
                                      drop = FALSE]))))
}
pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
m_types <- list(E = 4421, H = 755, M = 1018)
m_schwide <- list(No = 1072, Yes = 5122)
pop.totals <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, api99 = sum(apipop$api99))
cal_totals <- list(`(Intercept)` = 6194, stype = m_types, api99 = sum(apipop$api99))

options(survey.lonely.psu = "fail")
d_clus1 <- list(ids = list("dnum"), weights = "pw", fpc = list("fpc"))
dclus1 <- svydesign(id = ~dnum, fpc = ~fpc, weights = ~pw, data = apiclus1)
dstrat <- svydesign(id = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat)
d_strat <- list(strata = "stype", weights = "pw", fpc = list("fpc"))

# --- two-stage cluster sample with fpc at both stages (weights implied by the fpc) ---------------
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
d_clus2 <- list(ids = list("dnum", "snum"), fpc = list("fpc1", "fpc2"))
add("clus2_mean_api00", "two-stage variance with fpc at both stages; weights from fpc",
    "svymean(~api00, svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2), deff = TRUE)",
    "apiclus2.csv", d_clus2, list(fun = "mean", var = "api00"),
    c(stat_deff(svymean(~api00, dclus2, deff = TRUE)), list(degf = degf(dclus2))))
add("clus2_total_enroll_narm", "two-stage total with missing values removed (na.rm)",
    "svytotal(~enroll, dclus2, na.rm = TRUE)", "apiclus2.csv", d_clus2,
    list(fun = "total", var = "enroll"), stat(svytotal(~enroll, dclus2, na.rm = TRUE)))
add("clus2_by_stype_mean", "domain means in a two-stage design",
    "svyby(~api00, ~stype, dclus2, svymean)", "apiclus2.csv", d_clus2,
    list(fun = "mean", var = "api00", by = "stype"),
    by_stat(svyby(~api00, ~stype, dclus2, svymean), "api00"))
dclus2w <- svydesign(id = ~dnum + snum, weights = ~pw, data = apiclus2)
add("clus2_nofpc_mean", "two-stage ids without fpc: only the first stage counts (ultimate cluster)",
    "svymean(~api00, svydesign(id = ~dnum + snum, weights = ~pw, data = apiclus2))",
    "apiclus2.csv", list(ids = list("dnum", "snum"), weights = "pw"),
    list(fun = "mean", var = "api00"), stat(svymean(~api00, dclus2w)))

# --- lonely PSUs: strata = county, many counties have one school ---------------------------------
for (opt in c("certainty", "remove", "adjust", "average")) {
  options(survey.lonely.psu = opt)
  dl <- svydesign(id = ~1, strata = ~cname, weights = ~pw, data = apistrat)
  add(paste0("lonely_", opt, "_mean"), paste("lonely PSU rule", opt),
      sprintf("options(survey.lonely.psu = '%s'); svymean(~api00, svydesign(id = ~1, strata = ~cname, weights = ~pw, data = apistrat))", opt),
      "apistrat.csv", list(strata = "cname", weights = "pw"), list(fun = "mean", var = "api00"),
      c(stat(svymean(~api00, dl)), list(degf = degf(dl))), lonely = opt)
  add(paste0("lonely_", opt, "_by"), paste("lonely PSU rule", opt, "with domains"),
      sprintf("options(survey.lonely.psu = '%s'); svyby(~api00, ~stype, <design>, svymean)", opt),
      "apistrat.csv", list(strata = "cname", weights = "pw"),
      list(fun = "mean", var = "api00", by = "stype"),
      by_stat(svyby(~api00, ~stype, dl, svymean), "api00"), lonely = opt)
}
options(survey.lonely.psu = "fail")
add("lonely_fail", "lonely PSU with the default rule is an error",
    "svymean(~api00, svydesign(id = ~1, strata = ~cname, weights = ~pw, data = apistrat))",
    "apistrat.csv", list(strata = "cname", weights = "pw"), list(fun = "mean", var = "api00"),
    list(error = "DesignError"))

# --- domains: totals and proportions ------------------------------------------------------------
add("clus1_by_stype_total_enroll", "domain totals use the whole design",
    "svyby(~enroll, ~stype, dclus1, svytotal)", "apiclus1.csv", d_clus1,
    list(fun = "total", var = "enroll", by = "stype"),
    by_stat(svyby(~enroll, ~stype, dclus1, svytotal), "enroll"))
add("strat_by_stype_prop_schwide", "proportions of a factor within domains",
    "svyby(~sch.wide, ~stype, dstrat, svymean)", "apistrat.csv", d_strat,
    list(fun = "proportion", var = "sch.wide", by = "stype"),
    by_stat(svyby(~sch.wide, ~stype, dstrat, svymean), c("sch.wideNo", "sch.wideYes")))
add("clus1_by_two_vars", "domains crossed from two variables",
    "svyby(~api00, ~stype + sch.wide, dclus1, svymean)", "apiclus1.csv", d_clus1,
    list(fun = "mean", var = "api00", by = list("stype", "sch.wide")),
    by_stat(svyby(~api00, ~stype + sch.wide, dclus1, svymean), "api00"))

# --- two-sample t-tests -------------------------------------------------------------------------
for (nm in c("clus1", "strat")) {
  des <- if (nm == "clus1") dclus1 else dstrat
  tt <- svyttest(api00 ~ sch.wide, des)
  add(paste0(nm, "_ttest_schwide"), "two-group design-based t-test (svyglm coefficient)",
      sprintf("svyttest(api00 ~ sch.wide, d%s)", nm), paste0("api", nm, ".csv"),
      if (nm == "clus1") d_clus1 else d_strat,
      list(fun = "ttest_groups", var = "api00", group = "sch.wide"),
      list(estimate = unname(tt$estimate), statistic = unname(tt$statistic),
           df = unname(tt$parameter), p_value = tt$p.value,
           ci = unname(as.vector(tt$conf.int))))
}

# --- weighting ----------------------------------------------------------------------------------
rk <- rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide))
w_rake_default <- list(list(method = "rake", margins = list(stype = m_types, sch.wide = m_schwide),
                            max_iter = 10, epsilon = 1))
add("rake_default_control_mean", "rake with survey's default control (maxit 10, epsilon 1)",
    "svymean(~api00, rake(dclus1, list(~stype, ~sch.wide), list(pop.types, pop.schwide)))",
    "apiclus1.csv", d_clus1, list(fun = "mean", var = "api00"),
    c(stat(svymean(~api00, rk)), list(weights = unname(weights(rk)))), w_rake_default)
add("rake_by_stype", "domain means after raking (calibration residuals over the whole sample)",
    "svyby(~api00, ~sch.wide, rake(dclus1, ...), svymean)", "apiclus1.csv", d_clus1,
    list(fun = "mean", var = "api00", by = "sch.wide"),
    by_stat(svyby(~api00, ~sch.wide, rk, svymean), "api00"), w_rake_default)
rk2 <- rake(dstrat, list(~stype, ~sch.wide), list(pop.types, pop.schwide),
            control = list(maxit = 100, epsilon = 1e-10))
add("rake_strat_proportion", "proportions after raking a stratified design with fpc",
    "svymean(~awards, rake(dstrat, list(~stype, ~sch.wide), ..., control = list(maxit = 100, epsilon = 1e-10)))",
    "apistrat.csv", d_strat, list(fun = "proportion", var = "awards"),
    stat(svymean(~awards, rk2)),
    list(list(method = "rake", margins = list(stype = m_types, sch.wide = m_schwide),
              max_iter = 100, epsilon = 1e-10)))
ps <- postStratify(dstrat, ~sch.wide, pop.schwide)
add("poststrat_strat_total", "post-stratification across design strata, total",
    "svytotal(~enroll, postStratify(dstrat, ~sch.wide, pop.schwide))", "apistrat.csv", d_strat,
    list(fun = "total", var = "enroll"), stat(svytotal(~enroll, ps)),
    list(list(method = "poststratify", strata = "sch.wide", population = m_schwide)))
ps2 <- postStratify(dclus2, ~stype, pop.types)
add("poststrat_clus2_mean", "post-stratification of a two-stage design",
    "svymean(~api00, postStratify(dclus2, ~stype, pop.types))", "apiclus2.csv", d_clus2,
    list(fun = "mean", var = "api00"),
    c(stat(svymean(~api00, ps2)), list(weights = unname(weights(ps2)))),
    list(list(method = "poststratify", strata = "stype", population = m_types)))

cal_specs <- list(
  list(id = "linear_bounds_05_3", calfun = "linear", bounds = c(0.5, 3)),
  list(id = "linear_bounds_06_16", calfun = "linear", bounds = c(0.6, 1.6)),
  list(id = "raking_unbounded", calfun = "raking", bounds = c(-Inf, Inf)),
  list(id = "raking_bounds_06_16", calfun = "raking", bounds = c(0.6, 1.6)),
  list(id = "logit_bounds_05_3", calfun = "logit", bounds = c(0.5, 3)),
  list(id = "logit_bounds_06_16", calfun = "logit", bounds = c(0.6, 1.6)))
for (spec in cal_specs) {
  cal <- calibrate(dclus1, ~stype + api99, pop.totals, calfun = spec$calfun, bounds = spec$bounds)
  add(paste0("calibrate_", spec$id), paste("calibrate", spec$calfun, "with bounds",
                                           paste(spec$bounds, collapse = "..")),
      sprintf("svymean(~api00, calibrate(dclus1, ~stype + api99, pop.totals, calfun = '%s', bounds = c(%s, %s)))",
              spec$calfun, spec$bounds[1], spec$bounds[2]),
      "apiclus1.csv", d_clus1, list(fun = "mean", var = "api00"),
      c(stat(svymean(~api00, cal)), list(weights = unname(weights(cal)))),
      list(list(method = "calibrate", totals = cal_totals, calfun = spec$calfun,
                bounds = as.list(ifelse(is.finite(spec$bounds), spec$bounds, NA)))))
}
calfail <- tryCatch(calibrate(dclus1, ~stype + api99, pop.totals, bounds = c(0.9, 1.1)),
                    error = function(e) conditionMessage(e))
add("calibrate_infeasible_bounds", paste("infeasible bounds: R says", calfail),
    "calibrate(dclus1, ~stype + api99, pop.totals, bounds = c(0.9, 1.1))", "apiclus1.csv",
    d_clus1, list(fun = "mean", var = "api00"), list(error = "ConvergenceError"),
    list(list(method = "calibrate", totals = cal_totals, calfun = "linear",
              bounds = list(0.9, 1.1))))
cal2 <- calibrate(dclus2, ~stype, c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018),
                  calfun = "raking")
add("calibrate_clus2_raking_by", "raking calibration of a two-stage design, domain means",
    "svyby(~api00, ~sch.wide, calibrate(dclus2, ~stype, c(6194, 755, 1018), calfun = 'raking'), svymean)",
    "apiclus2.csv", d_clus2, list(fun = "mean", var = "api00", by = "sch.wide"),
    by_stat(svyby(~api00, ~sch.wide, cal2, svymean), "api00"),
    list(list(method = "calibrate", totals = list(`(Intercept)` = 6194, stype = m_types),
              calfun = "raking", bounds = list(NA, NA))))

res <- list(
  meta = list(R_version = R.version.string, survey_version = as.character(packageVersion("survey")),
              generated_by = "tests/reference/make_reference.R",
              note = paste("bounds NA means infinite; by_stat flattens svyby output group by",
                           "group, level by level; deff is survey's default (SRS without",
                           "replacement).")),
  cases = cases)
writeLines(toJSON(res, auto_unbox = TRUE, digits = I(17), pretty = TRUE, na = "null"),
           file.path(out_dir, "extra_reference.json"))
cat("wrote", length(cases), "cases\n")
