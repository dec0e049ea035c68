# Reference numbers for the survey-statistics additions (issue "Survey statistics a reviewer
# would not fault"): fpc as fractions, domain degrees of freedom, lonely_psu = "average" at stage
# 2, design effects, svyciprop, svycontrast, svyratio, svyquantile, deff = "replace",
# postStratify(partial = TRUE).
#
# Usage (from the repository root):  Rscript tests/reference/make_surveystats.R
# Needs: r-base-core, r-cran-survey (4.1.1 was used, Debian bookworm), r-cran-jsonlite.
# Writes tests/reference/survey/surveystats_reference.json and apiclus2_frac.csv; read by
# tests/test_surveystats_r.py.

suppressPackageStartupMessages({
  library(survey)
  library(jsonlite)
})
data(api)
out_dir <- file.path("tests", "reference", "survey")
num <- function(x) unname(as.vector(x))
res <- list()
options(survey.lonely.psu = "fail")

dclus1 <- svydesign(id = ~dnum, fpc = ~fpc, weights = ~pw, data = apiclus1)
dstrat <- svydesign(id = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat)
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)

# --- defect 1: fpc as sampling fractions, no weights ---------------------------------------------
clus2f <- apiclus2
clus2f$frac1 <- 40 / clus2f$fpc1
clus2f$frac2 <- ave(clus2f$snum, clus2f$dnum, FUN = length) / clus2f$fpc2
# one row per school; lonely_multi: the district has two or more sampled schools
clus2f$multi <- ifelse(ave(clus2f$snum, clus2f$dnum, FUN = length) > 1, "yes", "no")
# fpc2_lonely: district 15 (one school sampled) made one of 3 schools, so stage 2 has a lonely unit
clus2f$fpc2_lonely <- ifelse(clus2f$dnum == 15, 3, clus2f$fpc2)
write.csv(cbind(row_id = seq_len(nrow(clus2f)), clus2f[, c("dnum", "snum", "stype", "api00",
          "enroll", "fpc1", "fpc2", "frac1", "frac2", "multi", "fpc2_lonely")]),
          file.path(out_dir, "apiclus2_frac.csv"), row.names = FALSE, na = "")
dfrac <- svydesign(id = ~dnum + snum, fpc = ~frac1 + frac2, data = clus2f)
m <- svymean(~api00, dfrac)
res$fpc_fractions <- list(call = "svymean(~api00, svydesign(id = ~dnum + snum, fpc = ~frac1 + frac2, data = clus2f))",
                          estimate = num(coef(m)), se = num(SE(m)),
                          weights_first5 = num(weights(dfrac)[1:5]))
err <- tryCatch({svydesign(id = ~dnum + snum, fpc = ~fpc1, data = apiclus2); "no error"},
                error = function(e) conditionMessage(e))
res$fpc_one_column_two_stage <- list(call = "svydesign(id = ~dnum + snum, fpc = ~fpc1, data = apiclus2)",
                                     error = err)

# --- defect 2: domain degrees of freedom -----------------------------------------------------------
dom <- list()
for (s in c("E", "H", "M")) {
  sub <- subset(dclus1, stype == s)
  tt <- svyttest(I(api00 - 700) ~ 0, sub)
  dom[[s]] <- list(degf = degf(sub), df = num(tt$parameter), p_value = tt$p.value,
                   statistic = num(tt$statistic))
}
res$domain_df_clus1 <- list(call = "svyttest(I(api00 - 700) ~ 0, subset(dclus1, stype == s)); degf(subset(...))",
                            whole_degf = degf(dclus1), by = dom)

# --- defect 4: lonely_psu = "average" at stage 2 ---------------------------------------------------
options(survey.lonely.psu = "average")
clus2f$in15 <- ifelse(clus2f$dnum == 15, "d15", "other")
dav <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2_lonely, data = clus2f)
mav <- svymean(~api00, dav)
bav <- svyby(~api00, ~multi, dav, svymean)
bav15 <- svyby(~api00, ~in15, dav, svymean)
res$average_stage2 <- list(call = "options(survey.lonely.psu = 'average'); svymean / svyby(~api00, ~multi, svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2_lonely, data = clus2f), svymean)",
                           whole_se = num(SE(mav)), by_multi = num(bav$multi),
                           by_estimate = num(coef(bav)), by_se = num(SE(bav)),
                           by_in15 = num(bav15$in15), by_in15_se = num(SE(bav15)))
options(survey.lonely.psu = "fail")

# --- defect 5: design effect when the weights sum to less than n ---------------------------------
small <- apisrs
small$pw2 <- small$pw / 100
dsmall <- svydesign(id = ~1, weights = ~pw2, data = small)
dm <- withCallingHandlers(svymean(~api00, dsmall, deff = TRUE),
                          warning = function(w) { res$deff_small_warning <<- conditionMessage(w);
                            invokeRestart("muffleWarning") })
res$deff_small <- list(call = "svymean(~api00, svydesign(id = ~1, weights = ~I(pw / 100), data = apisrs), deff = TRUE)",
                       deff = num(deff(dm)), estimate = num(coef(dm)), se = num(SE(dm)),
                       deff_replace = num(deff(svymean(~api00, dsmall, deff = "replace"))))

# --- defect 7: postStratify(partial = TRUE) ---------------------------------------------------------
pop_extra <- data.frame(stype = c("E", "H", "M", "X"), Freq = c(4421, 755, 1018, 300))
ps <- postStratify(dclus1, ~stype, pop_extra, partial = TRUE)
mps <- svymean(~api00, ps)
tps <- svytotal(~enroll, ps)
err <- tryCatch({postStratify(dclus1, ~stype, pop_extra); "no error"},
                error = function(e) conditionMessage(e))
res$poststrat_partial <- list(call = "postStratify(dclus1, ~stype, data.frame(stype = c('E','H','M','X'), Freq = c(4421, 755, 1018, 300)), partial = TRUE)",
                              mean = num(coef(mps)), mean_se = num(SE(mps)),
                              total = num(coef(tps)), total_se = num(SE(tps)),
                              sum_weights = sum(weights(ps)), error_without = err)

# --- svyciprop -----------------------------------------------------------------------------------
methods <- c("logit", "likelihood", "asin", "beta", "mean", "xlogit")
ci_case <- function(design, formula, by = NULL) {
  out <- list()
  for (meth in methods) {
    if (is.null(by)) {
      ci <- svyciprop(formula, design, method = meth)
      out[[meth]] <- list(estimate = num(ci), se = num(sqrt(attr(ci, "var"))),
                          lower = num(attr(ci, "ci")[1]), upper = num(attr(ci, "ci")[2]))
    } else {
      b <- svyby(formula, by, design, svyciprop, method = meth, vartype = c("se", "ci"))
      out[[meth]] <- list(groups = as.character(b[[1]]), estimate = num(coef(b)),
                          se = num(SE(b)), lower = num(b$ci_l), upper = num(b$ci_u))
    }
  }
  out
}
res$ciprop <- list(
  clus1_schwide = c(list(call = "svyciprop(~I(sch.wide == 'Yes'), dclus1, method = m)"),
                    ci_case(dclus1, ~I(sch.wide == "Yes"))),
  strat_awards_by_stype = c(list(call = "svyby(~I(awards == 'Yes'), ~stype, dstrat, svyciprop, method = m)"),
                            ci_case(dstrat, ~I(awards == "Yes"), ~stype)),
  clus1_stypeH = c(list(call = "svyciprop(~I(stype == 'H'), dclus1, method = m) (small share)"),
                   ci_case(dclus1, ~I(stype == "H"))),
  clus1_schwide_by_stype = c(list(call = "svyby(~I(sch.wide == 'Yes'), ~stype, dclus1, svyciprop, method = m)"),
                             ci_case(dclus1, ~I(sch.wide == "Yes"), ~stype)))

# --- svycontrast ---------------------------------------------------------------------------------
con <- list()
for (nm in c("clus1", "strat")) {
  des <- if (nm == "clus1") dclus1 else dstrat
  b <- svyby(~api00, ~stype, des, svymean, covmat = TRUE)
  c1 <- svycontrast(b, c(E = 1, H = -1))
  c2 <- svycontrast(b, c(E = 0.5, M = 0.5))
  bt <- svyby(~enroll, ~stype, des, svytotal, covmat = TRUE)
  c3 <- svycontrast(bt, c(E = 1, H = 1, M = 1))
  con[[nm]] <- list(E_minus_H = list(estimate = num(coef(c1)), se = num(SE(c1))),
                    half_E_M = list(estimate = num(coef(c2)), se = num(SE(c2))),
                    total_sum = list(estimate = num(coef(c3)), se = num(SE(c3))),
                    degf = degf(des))
}
res$contrast <- c(list(call = "svycontrast(svyby(~api00, ~stype, d, svymean, covmat = TRUE), c(E = 1, H = -1)) etc."), con)

# --- svyratio ------------------------------------------------------------------------------------
rat <- list()
for (nm in c("clus1", "strat", "clus2")) {
  des <- switch(nm, clus1 = dclus1, strat = dstrat, clus2 = dclus2)
  r <- svyratio(~api00, ~api99, des)
  b <- svyby(~api00, ~stype, des, svyratio, denominator = ~api99)
  rat[[nm]] <- list(estimate = num(coef(r)), se = num(SE(r)),
                    by_groups = as.character(b$stype), by_estimate = num(coef(b)),
                    by_se = num(SE(b)))
}
r <- svyratio(~enroll, ~api00, dclus2, na.rm = TRUE)
rat$clus2_narm <- list(estimate = num(coef(r)), se = num(SE(r)))
res$ratio <- c(list(call = "svyratio(~api00, ~api99, d); svyby(~api00, ~stype, d, svyratio, denominator = ~api99)"), rat)

# --- svyquantile (survey 4.x: qrule = 'math' default, Woodruff interval.type = 'mean') -------------
qu <- list()
probs <- c(0.1, 0.25, 0.5, 0.9)
for (nm in c("clus1", "strat")) {
  des <- if (nm == "clus1") dclus1 else dstrat
  for (rule in c("math", "hf7")) {
    q <- svyquantile(~api00, des, probs, qrule = rule, ci = TRUE)[[1]]
    entry <- list(probs = probs, estimate = num(q[, 1]), lower = num(q[, 2]),
                  upper = num(q[, 3]), se = num(q[, 4]))
    doms <- list()
    for (s in c("E", "H", "M")) {
      qs <- svyquantile(~api00, subset(des, stype == s), 0.5, qrule = rule, ci = TRUE)[[1]]
      doms[[s]] <- list(estimate = num(qs[, 1]), lower = num(qs[, 2]), upper = num(qs[, 3]),
                        se = num(qs[, 4]))
    }
    entry$median_by_stype <- doms
    qu[[paste(nm, rule, sep = "_")]] <- entry
  }
}
ps_types <- postStratify(dclus1, ~stype, data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018)))
q <- svyquantile(~api00, ps_types, c(0.25, 0.5), ci = TRUE)[[1]]
qu$poststrat_clus1_math <- list(probs = c(0.25, 0.5), estimate = num(q[, 1]), lower = num(q[, 2]),
                                upper = num(q[, 3]), se = num(q[, 4]))
res$quantile <- c(list(call = "svyquantile(~api00, d, c(0.1, 0.25, 0.5, 0.9), qrule = r, ci = TRUE); per domain on subset(d, stype == s)",
                       interval_type = "mean (Woodruff; survey 4.1.1 default)"), qu)

# --- deff = "replace" ----------------------------------------------------------------------------
dr <- list()
for (nm in c("clus1", "strat")) {
  des <- if (nm == "clus1") dclus1 else dstrat
  m <- svymean(~api00, des, deff = "replace")
  t <- svytotal(~enroll, des, deff = "replace", na.rm = TRUE)
  b <- svyby(~api00, ~stype, des, svymean, deff = "replace")
  dr[[nm]] <- list(mean_deff = num(deff(m)), total_deff = num(deff(t)),
                   by_deff = num(b[["DEff.api00"]]))
}
res$deff_replace <- c(list(call = "svymean(~api00, d, deff = 'replace'); svytotal(~enroll, d, deff = 'replace', na.rm = TRUE); svyby(..., deff = 'replace')"), dr)

out <- list(meta = list(R_version = R.version.string,
                        survey_version = as.character(packageVersion("survey")),
                        generated_by = "tests/reference/make_surveystats.R"),
            cases = res)
writeLines(toJSON(out, auto_unbox = TRUE, digits = I(17), pretty = TRUE, na = "null"),
           file.path(out_dir, "surveystats_reference.json"))
cat("wrote surveystats_reference.json\n")

# --- replicate-weight designs -------------------------------------------------------------------
# (appended: writes surveystats_replicate.json and the replicate weights used)
rep_out <- list()
dclus1n <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
dstratn <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat)
jk1 <- as.svrepdesign(dclus1n, type = "JK1")
jkn <- as.svrepdesign(dstratn, type = "JKn")
set.seed(20240601)
boot <- as.svrepdesign(dclus1n, type = "bootstrap", replicates = 50)
rw <- function(d, prefix) {
  w <- as.matrix(weights(d, "analysis"))
  colnames(w) <- sprintf("%s%02d", prefix, seq_len(ncol(w)))
  w
}
write.csv(cbind(row_id = seq_len(nrow(apiclus1)), rw(jk1, "jk"), rw(boot, "bs")),
          file.path(out_dir, "apiclus1_repweights.csv"), row.names = FALSE)
rep_stats <- function(d) {
  m <- svymean(~api00, d)
  t <- svytotal(~enroll, d, na.rm = TRUE)
  p <- svymean(~stype, d)
  b <- svyby(~api00, ~sch.wide, d, svymean)
  list(mean = num(coef(m)), mean_se = num(SE(m)), total = num(coef(t)), total_se = num(SE(t)),
       prop = num(coef(p)), prop_se = num(SE(p)), by_groups = as.character(b$sch.wide),
       by_mean = num(coef(b)), by_se = num(SE(b)), degf = degf(d), scale = d$scale,
       rscales = num(d$rscales))
}
rep_out$as_jk1_clus1 <- c(list(call = "as.svrepdesign(svydesign(id = ~dnum, weights = ~pw, data = apiclus1), type = 'JK1')"), rep_stats(jk1))
rep_out$as_jkn_strat <- c(list(call = "as.svrepdesign(svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat), type = 'JKn')"), rep_stats(jkn))
rep_out$boot_clus1 <- c(list(call = "as.svrepdesign(dclus1 (no fpc), type = 'bootstrap', replicates = 50) after set.seed(20240601); weights in apiclus1_repweights.csv bs01..bs50"), rep_stats(boot))
rep_out$as_jk1_clus1_fpc <- c(list(call = "as.svrepdesign(dclus1, type = 'JK1') (with fpc)"),
                              rep_stats(as.svrepdesign(dclus1, type = "JK1")))
rep_out$as_jkn_strat_fpc <- c(list(call = "as.svrepdesign(dstrat, type = 'JKn') (with fpc)"),
                              rep_stats(as.svrepdesign(dstrat, type = "JKn")))
bw <- rw(boot, "bs")
for (tp in c("BRR", "Fay", "other")) {
  args <- list(data = apiclus1, repweights = bw, weights = ~pw, type = tp, combined.weights = TRUE)
  if (tp == "Fay") args$rho <- 0.3
  if (tp == "other") { args$scale <- 0.02; args$rscales <- rep(1, 50) }
  d <- do.call(svrepdesign, args)
  rep_out[[paste0("svrep_", tp)]] <- c(list(call = sprintf("svrepdesign(data = apiclus1, repweights = <bs01..bs50>, weights = ~pw, type = '%s'%s)", tp,
    switch(tp, Fay = ", rho = 0.3", other = ", scale = 0.02, rscales = 1", ""))), rep_stats(d))
}
dm <- svrepdesign(data = apiclus1, repweights = bw, weights = ~pw, type = "bootstrap",
                  combined.weights = TRUE, mse = TRUE)
rep_out$svrep_bootstrap_mse <- c(list(call = "svrepdesign(..., type = 'bootstrap', mse = TRUE)"), rep_stats(dm))
writeLines(toJSON(list(meta = list(R_version = R.version.string,
                                   survey_version = as.character(packageVersion("survey"))),
                       cases = rep_out), auto_unbox = TRUE, digits = I(17), pretty = TRUE,
                  na = "null"),
           file.path(out_dir, "surveystats_replicate.json"))
cat("wrote surveystats_replicate.json\n")

# --- weighting replicate designs: postStratify / rake / calibrate redone in every replicate -------
# (appended: writes surveystats_replicate_weighting.json)
pop_stype <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_schwide <- as.data.frame(table(sch.wide = apipop$sch.wide))
cal_pop <- c(`(Intercept)` = nrow(apipop), stypeH = sum(apipop$stype == "H"),
             stypeM = sum(apipop$stype == "M"), api99 = sum(apipop$api99))
wt_stats <- function(d) {
  m <- svymean(~api00, d)
  t <- svytotal(~enroll, d, na.rm = TRUE)
  b <- svyby(~api00, ~sch.wide, d, svymean)
  bs <- svyby(~api00, ~stype, d, svymean)
  list(mean = num(coef(m)), mean_se = num(SE(m)), total = num(coef(t)), total_se = num(SE(t)),
       by_groups = as.character(b$sch.wide), by_mean = num(coef(b)), by_se = num(SE(b)),
       by_stype_se = num(SE(bs)), degf = degf(d), sum_weights = sum(weights(d, "sampling")),
       repweights_11_22_33 = num(as.matrix(weights(d, "analysis"))[cbind(1:3, 1:3)]))
}
wt_designs <- list(
  jk1_clus1 = list(call = "as.svrepdesign(dclus1, type = 'JK1')", d = as.svrepdesign(dclus1, type = "JK1")),
  jkn_strat = list(call = "as.svrepdesign(dstrat, type = 'JKn')", d = as.svrepdesign(dstrat, type = "JKn")),
  boot_clus1 = list(call = "svrepdesign(data = apiclus1, repweights = <bs01..bs50>, weights = ~pw, type = 'bootstrap', combined.weights = TRUE)",
                    d = svrepdesign(data = apiclus1, repweights = bw, weights = ~pw, type = "bootstrap",
                                    combined.weights = TRUE)))
wt_out <- list()
for (nm in names(wt_designs)) {
  d <- wt_designs[[nm]]$d
  cases <- list(
    poststratify = postStratify(d, ~stype, pop_stype),
    rake = rake(d, list(~stype, ~sch.wide), list(pop_stype, pop_schwide)),
    calibrate_linear = calibrate(d, ~stype + api99, cal_pop, compress = FALSE),
    calibrate_raking = calibrate(d, ~stype + api99, cal_pop, calfun = "raking", compress = FALSE),
    calibrate_logit = calibrate(d, ~stype + api99, cal_pop, calfun = "logit", bounds = c(0.2, 5),
                                 compress = FALSE))
  wt_out[[nm]] <- c(list(call = wt_designs[[nm]]$call), lapply(cases, wt_stats))
}
writeLines(toJSON(list(meta = list(R_version = R.version.string,
                                   survey_version = as.character(packageVersion("survey")),
                                   calls = c(poststratify = "postStratify(d, ~stype, pop_stype)",
                                             rake = "rake(d, list(~stype, ~sch.wide), list(pop_stype, pop_schwide)) (maxit 10, epsilon 1)",
                                             calibrate = "calibrate(d, ~stype + api99, cal_pop, calfun = 'linear' | 'raking' | 'logit' (bounds c(0.2, 5)), compress = FALSE"),
                                   pop_stype = pop_stype, pop_schwide = pop_schwide,
                                   cal_pop = as.list(cal_pop)),
                       cases = wt_out), auto_unbox = TRUE, digits = I(17), pretty = TRUE,
                  na = "null"),
           file.path(out_dir, "surveystats_replicate_weighting.json"))
cat("wrote surveystats_replicate_weighting.json\n")
