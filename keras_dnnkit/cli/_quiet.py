"""Keep TensorFlow's log lines out of the command line's output.

TensorFlow 2.21 prints its start-up notes (oneDNN, CUDA drivers, ``cuInit`` errors, the
absl "log messages before InitializeLog" line) straight to the process's standard error
while it loads, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. The command line therefore imports
TensorFlow with standard error set aside, and shows what was set aside only if the
import fails. Setting ``TF_CPP_MIN_LOG_LEVEL`` yourself (e.g. to 0) keeps every line.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile

QUIET_LEVEL = "3"
_USER_LEVEL = "TF_CPP_MIN_LOG_LEVEL" in os.environ  # read before the command line sets it


def silence_tensorflow() -> None:
    """Set TensorFlow's log level (unless the user did) and quiet its Python loggers.

    Example:
        >>> silence_tensorflow()
        >>> os.environ["TF_CPP_MIN_LOG_LEVEL"] in "0123"
        True
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LEVEL)
    for logger in ("absl", "tensorflow"):
        logging.getLogger(logger).setLevel(logging.ERROR)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and start its devices with standard error set aside.

    Does nothing when TensorFlow is already imported or the user chose a log level.
    Should the import fail, what it printed is shown before the error is raised.

    Example:
        >>> import_tensorflow_quietly()
        >>> "tensorflow" in sys.modules
        True
    """
    silence_tensorflow()
    if "tensorflow" in sys.modules or _USER_LEVEL:
        import tensorflow  # noqa: F401 -- imported for its side effect, as below

        return
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # devices (and cuInit) start here, quietly
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
