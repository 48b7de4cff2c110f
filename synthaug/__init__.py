"""synthaug: make small labelled image datasets bigger with class-conditional GANs,
and measure honestly whether that helped.

The public API is re-exported here and imported on first use, so ``import synthaug``
stays cheap (torch loads only when a model is touched).

Examples
--------
>>> from synthaug import load_dataset
>>> load_dataset("builtin:digits").image_shape
(1, 8, 8)
"""

from __future__ import annotations

from ._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "ImageDataset": "synthaug.data",
    "load_dataset": "synthaug.data",
    "write_npz": "synthaug.data",
    "write_png_folder": "synthaug.data",
    "images_from_uint8": "synthaug.data",
    "images_to_uint8": "synthaug.data",
    "ConditionalGAN": "synthaug.generators",
    "ConditionalDiffusion": "synthaug.generators",
    "GANOverSampler": "synthaug.over_sampling",
    "OverSampler": "synthaug.over_sampling",
    "CNNClassifier": "synthaug.classifiers",
    "make_classifier": "synthaug.classifiers",
    "FGSM": "synthaug.attacks",
    "PGD": "synthaug.attacks",
    "corrupt": "synthaug.attacks",
    "evaluate_robustness": "synthaug.attacks",
    "ExperimentConfig": "synthaug.experiment",
    "run_experiment": "synthaug.experiment",
    "Report": "synthaug.experiment",
    "SynthaugError": "synthaug.exceptions",
    "InvalidDataError": "synthaug.exceptions",
    "ConfigError": "synthaug.exceptions",
    "ModelFileError": "synthaug.exceptions",
    "LowQualityError": "synthaug.exceptions",
    "TrainingDivergedError": "synthaug.exceptions",
    "RobustnessSpec": "synthaug.attacks",
    "QualityReport": "synthaug.quality",
    "assess": "synthaug.quality",
    "select_samples": "synthaug.over_sampling",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
