"""Model training: data (phantom + teacher pseudo-labels), augmentation, self-supervised pretraining,
supervised training, self-training, validation, export. Entry point: :func:`sarco_core.train.run.train`."""
