"""Training callbacks with Keras 3's names, arguments and behaviour (``keras.callbacks``)."""
from .callback import Callback, CallbackList, History, ProgbarLogger
from .misc import BackupAndRestore, CSVLogger, LambdaCallback, LearningRateScheduler, TensorBoard, TerminateOnNaN
from .monitor import EarlyStopping, ModelCheckpoint, MonitorCallback, ReduceLROnPlateau

__all__ = [
    "BackupAndRestore",
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
    "TensorBoard",
    "TerminateOnNaN",
]
