"""Training callbacks with Keras 3's names, arguments and behaviour (``keras.callbacks``)."""
from .callback import Callback, CallbackList, History, ProgbarLogger
from .misc import CSVLogger, LambdaCallback, LearningRateScheduler, TerminateOnNaN
from .monitor import EarlyStopping, ModelCheckpoint, MonitorCallback, ReduceLROnPlateau

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
