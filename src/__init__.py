import warnings

# conf/hydra/sweeper/basic.yaml and conf/hydra/launcher/{joblib,submitit_*}.yaml take the place of the configs Hydra and
# its plugins register under those names (every multirun gets this project's sweeper, `hydra/launcher=joblib` its
# defaults); Hydra checks each against the registered schema, as we want, and warns that matching by name is deprecated
warnings.filterwarnings(
    "ignore", message=r"(?s).*'hydra/(launcher/(joblib|submitit_local|submitit_slurm)|sweeper/basic)' is validated against"
)
