"""Using a trained model: loading any format as one Classifier, evaluation, ensembles, predict, explain, face detectors."""
