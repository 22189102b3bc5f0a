"""Networks: building and counting them, the pipeline around them, recipes."""
