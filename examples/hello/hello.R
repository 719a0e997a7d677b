# An example Rserve Desk app: every top-level function here can be called by name.

hello <- function(name = "world") {
  paste0("Hello, ", name, "!")
}

add <- function(a, b) {
  a + b
}

summary_stats <- function(x) {
  x <- as.numeric(x)
  list(n = length(x), mean = mean(x), sd = sd(x), range = range(x))
}
