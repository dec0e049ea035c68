# Reference values for tests/test_knelpunten_drivers.py and test_knelpunten_norms.py, from R's
# survey package. Run from the repository root:
#   Rscript tests/reference/knelpunten/make_knelpunten_reference.R
# It writes knelpunten_data.csv (a small stratified two-stage sample with missing values) and
# knelpunten_reference.csv (one row per statistic: case, term, estimate, se, df).
suppressPackageStartupMessages(library(survey))
out_dir <- file.path("tests", "reference", "knelpunten")
set.seed(20080)

n_strata <- 4; n_psu <- 5; per_psu <- 12
n <- n_strata * n_psu * per_psu
d <- data.frame(
  row_id = seq_len(n),
  stratum = rep(paste0("h", 1:n_strata), each = n_psu * per_psu),
  psu = rep(paste0("c", 1:(n_strata * n_psu)), each = per_psu),
  event = sample(c("a", "b"), n, replace = TRUE, prob = c(0.6, 0.4))
)
d$w <- round(runif(n, 5, 40), 3) * rep(c(1, 2, 1.5, 0.7), each = n_psu * per_psu)
psu_effect <- rnorm(n_strata * n_psu, 0, 0.5)[as.integer(factor(d$psu, levels = unique(d$psu)))]
g <- rnorm(n)
x1 <- pmin(5, pmax(1, round(3 + 0.8 * g + rnorm(n, 0, 0.8))))
x2 <- pmin(5, pmax(1, round(3.2 + 0.6 * g + rnorm(n, 0, 0.9))))
x3 <- pmin(5, pmax(1, round(2.8 + 0.5 * g + rnorm(n, 0, 1.0))))
y <- pmin(10, pmax(1, round(2 + 0.3 * x1 + 0.6 * x2 + 0.1 * x3 + psu_effect + rnorm(n, 0, 1.1))))
x2[sample(n, 25)] <- NA
x3[sample(n, 15)] <- NA
y[sample(n, 10)] <- NA
d$x1 <- x1; d$x2 <- x2; d$x3 <- x3; d$y <- y
write.csv(d, file.path(out_dir, "knelpunten_data.csv"), row.names = FALSE, na = "")

des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d)
pop_event <- data.frame(event = c("a", "b"), Freq = c(5000, 4000))
des_ps <- postStratify(des, ~event, pop_event)

rows <- list()
add_glm <- function(case, fit) {
  cf <- coef(fit); se <- sqrt(diag(vcov(fit)))
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, term = names(cf), estimate = unname(cf), se = unname(se),
    df = fit$df.residual
  )
}
add_glm("glm_all", svyglm(y ~ x1 + x2 + x3, design = des))
add_glm("glm_event_b", svyglm(y ~ x1 + x2 + x3, design = subset(des, event == "b")))
add_glm("glm_poststrat", svyglm(y ~ x1 + x2 + x3, design = des_ps))

# share "goed" (x >= 4) of x2 by event: svyby of a 0/1 indicator, NA = not applicable
d_ind <- update(des, good2 = as.numeric(x2 >= 4), bad2 = as.numeric(x2 <= 2))
for (v in c("good2", "bad2")) {
  by <- svyby(as.formula(paste0("~", v)), ~event, d_ind, svymean, na.rm = TRUE)
  rows[[length(rows) + 1]] <- data.frame(
    case = paste0("share_", v), term = as.character(by$event), estimate = by[[v]],
    se = SE(by), df = degf(des)
  )
}
# paired difference of two shares in domain b: mean(good1 - good2) on the common rows is NOT the
# same statistic (different denominators), so use svycontrast on svymean of both with na.rm by
# variable, via svyby on each and the joint influence: survey has no direct function, so build the
# ratio estimates explicitly: share_j = svyratio(~I(good_j * obs_j), ~obs_j).
d_ind <- update(d_ind, good1 = as.numeric(x1 >= 4),
                obs2 = as.numeric(!is.na(x2)), g2 = ifelse(is.na(x2), 0, as.numeric(x2 >= 4)),
                obs1 = 1, g1 = as.numeric(x1 >= 4))
db <- subset(d_ind, event == "b")
tot <- svytotal(~g1 + obs1 + g2 + obs2, db)
diff <- svycontrast(tot, quote(g2 / obs2 - g1 / obs1))
rows[[length(rows) + 1]] <- data.frame(
  case = "share_diff_b", term = "good2 - good1", estimate = unname(coef(diff)),
  se = unname(SE(diff)), df = degf(des)
)
ref <- do.call(rbind, rows)
write.csv(ref, file.path(out_dir, "knelpunten_reference.csv"), row.names = FALSE)
cat("survey", as.character(packageVersion("survey")), "\n")
print(ref)
