import sys
import warnings

# conf/hydra/sweeper/basic.yaml and conf/hydra/launcher/{joblib,submitit_*}.yaml replace the configs registered under
# those names; Hydra validates each against the registered schema, as we want, and warns that matching by name is deprecated
warnings.filterwarnings(
    "ignore", message=r"(?s).*'hydra/(launcher/(joblib|submitit_local|submitit_slurm)|sweeper/basic)' is validated against"
)
# piecewise-linear embeddings: a 0/1 or constant column has one bin, as it should
warnings.filterwarnings("ignore", message=r"The \d+-th feature has just two bin edges")
# torchmetrics on a split without rows of a class: the DataModule's own warning names the split and the class
warnings.filterwarnings("ignore", message=r"No (positive|negative) samples in targets")

_python_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """The project's own warnings print as one `warning:` line, as its errors do; others keep Python's format."""
    if category is UserWarning and filename.startswith(__path__[0]):
        print(f"warning: {message}", file=file or sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


warnings.showwarning = _show_warning  # the hook Python documents for replacing how warnings are shown
