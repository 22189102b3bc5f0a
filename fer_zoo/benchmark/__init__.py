"""`fer-zoo bench`: rows, where they run (worker processes here, Ray tasks), one row's worker, and the bench
folder's report.html."""
