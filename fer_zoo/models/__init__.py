"""Networks: building and counting them, the pipeline around them, recipes, starting from other weights."""
