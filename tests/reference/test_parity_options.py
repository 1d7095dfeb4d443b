"""With every option beyond the lesson switched on, the plain loop and Lightning still make the same decisions."""

from tests.support.parity import assert_same_decisions, run_both


def test_runners_agree_with_schedule_dropout_norm_embedding_and_quantiles(make_config):
    lightning, plain = run_both(
        make_config,
        "experiment=cancer",
        "seed=2",
        "trainer.max_epochs=12",
        "data.steps_per_execution=3",
        "model.lr_schedule=onecycle",
        "model.net.dropout=0.2",
        "model.net.norm=batch",
        "model.net.embedding={kind:periodic,n_frequencies:4,d_embedding:4,frequency_init_scale:0.5}",
        "data.feature_transform=quantile",
        "model.optimizer._target_=torch.optim.AdamW",
        "model.optimizer.weight_decay=0.01",
    )
    assert_same_decisions(lightning, plain)


def test_runners_agree_on_a_multiclass_table_with_text_categories_and_missing_values(make_config):
    # penguins: species (3 classes) from island and sex (text, with holes) and measurements (with holes)
    lightning, plain = run_both(make_config, "experiment=penguins", "seed=0", "trainer.max_epochs=15", "model.net.hidden=[8,8]")
    assert_same_decisions(lightning, plain)
    assert "test_f1_macro" in lightning.test and "test_confusion_matrix" in lightning.matrices
