import warnings

# conf/hydra/sweeper/basic.yaml and conf/hydra/launcher/{joblib,submitit_*}.yaml replace the configs registered under
# those names; Hydra validates each against the registered schema, as we want, and warns that matching by name is deprecated
warnings.filterwarnings(
    "ignore", message=r"(?s).*'hydra/(launcher/(joblib|submitit_local|submitit_slurm)|sweeper/basic)' is validated against"
)
