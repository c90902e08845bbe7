"""insole_mtl: multitask activity, speed and body-weight estimation from smart-insole signals."""

__version__ = "0.1.0"
