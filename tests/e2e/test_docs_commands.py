"""Every command that README.md and docs/pages/*.md show is checked by the suite.

`CHECKS` names, for each command a page shows (read by `tests.doc_commands`), how:
- `Run`: it runs here, in this process, shortened by ``extra`` (one epoch, a 2-trial search),
  and must exit with ``code`` and print ``expect`` and the output its page shows after it;
  it runs with ``tracking=none`` unless ``tracked`` (what runs log, sweeps' parent and child
  runs included, is checked by the tracking tests: test_cli_tracking.py, test_sweeps.py...);
- `Covered`: the named test runs it (shortened there) and checks its outcome;
- `External`: it needs what a test machine has not (a GPU, a cluster, sudo, the internet),
  or it is a benchmark; the reason says which.
A command added to a page without an entry here fails `test_every_shown_command_is_checked`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_inprocess import run_cli
from tests.doc_commands import ROOT, shown_commands


@dataclass(frozen=True)
class Run:
    extra: tuple[str, ...] = ("trainer.max_epochs=1",)
    expect: tuple[str, ...] = ("results ",)
    code: int = 0
    output: bool = True  # the output a text block shows after it must appear
    tracked: bool = False  # logged to the session's MLflow store (its page promises a logged run)


@dataclass(frozen=True)
class Covered:
    test: str  # tests/<path>.py or tests/<path>.py::test_name


@dataclass(frozen=True)
class External:
    reason: str


CHECKS: dict[str, Run | Covered | External] = {
    'make run': External('creates .venv and installs nnx (network, minutes), then runs `nnx`, checked here'),
    'make test': External('this suite itself'),
    'nnx': Run(expect=('results ', 'MLflow run '), tracked=True),
    'nnx model=cnn data=mnist1d': Run(),
    'nnx model=mlp model.hidden=[64,32] optimizer=sgd optimizer.lr=0.01': Run(),
    'nnx experiment=xor_mlp': Covered('tests/e2e/test_training.py::test_mlp_solves_xor'),
    'nnx -m model.hidden=[32],[128] optimizer=adam,sgd': Run(expect=('4 trials, 4 finished',)),
    'nnx -m hparams_search=mlp_optuna': Run(extra=('hydra.sweeper.n_trials=2', 'trainer.max_epochs=1'), expect=('sweep: 2 trials, 2 finished',)),
    'nnx -m hparams_search=cnn_optuna hydra.sweeper.n_jobs=2 hydra/sweeper/pruner=median': Covered('tests/e2e/test_search.py::test_pruned_trials_end_killed_and_tagged_in_mlflow_and_pruned_in_optuna'),
    'nnx-plugins mlp': Run(extra=(), expect=("model plugin 'mlp'", 'hidden: list[int] = [100, 100]  # sizes of the hidden layers')),
    'nnx-compare --sweep latest': Covered('tests/e2e/test_team_server.py::test_nnx_compare_ranks_the_sweep_without_torch'),
    'nnx-ui': Covered('tests/e2e/test_team_server.py::test_nnx_ui_shows_the_sweep_in_a_browser_and_sigterm_stops_its_server_tree'),
    'nnx data=breast_cancer loss=focal metrics=[f1,auroc] optimized_metric=val/auroc': Run(expect=('test/auroc', 'test/f1')),
    'nnx data=iris eval.seeds=5': Run(expect=('seeds: 5', 'baseline')),
    'nnx callbacks=[early_stopping,checkpoint] callbacks.early_stopping.monitor=val/acc': Run(),
    'nnx-predict <run id or dir> --input new.csv': Covered('tests/e2e/test_predict.py::test_nnx_predict_by_run_id_and_by_run_dir'),
    'nnx data=image_folder data.path=imgs model=torchvision model.weights=resnet18.pt': Covered('tests/e2e/test_images.py::test_resnet18_from_a_local_file_frozen_then_unfrozen'),
    'nnx-evaluate <run id or dir> --input labelled.csv --output report/': Covered('tests/e2e/test_evaluation.py::test_a_multiclass_run_reports_and_nnx_evaluate_reproduces_it'),
    'nnx rerun=<run id>': Covered('tests/e2e/test_rerun.py::test_rerun_matches_and_an_override_changes_it'),
    'nnx -m hparams_search=mlp_optuna tracking.register=digits': Covered('tests/e2e/test_registry.py::test_sweeps_register_their_best_trial_gated_by_the_champion'),
    'nnx-predict models:/digits@champion --input new.csv': Covered('tests/e2e/test_registry.py::test_a_run_registers_its_model_and_takes_the_alias'),
    'nnx-export <run id or dir> --format onnx --output model.onnx': Covered('tests/e2e/test_export.py::test_csv_with_categoricals_exports_preprocessing_in_the_graph'),
    'python -c \'import nnx; print(nnx.run("data=iris").metrics)\'': Covered('tests/e2e/test_api.py::test_calls_repeat_in_one_process'),
    'nnx model.hiden=3': Run(extra=(), expect=(), code=2),
    'nnx model=cnn': Run(),
    'nnx model=cnn model.channels=[32,64] model.padding=[1] model.pool=avg model.batch_norm=true model.dropout=0.25': Run(),
    'nnx model=cnn data=mnist1d model.channels=[25,25,25] model.kernel_size=[5,3,3] model.stride=[2] model.padding=[1] model.pool=none model.dense=[]': Run(),
    'nnx model=gru': Run(),
    'nnx model=lstm model.hidden=128 model.layers=2 model.dropout=0.2 trainer.gradient_clip_val=1.0': Run(),
    'nnx model=rnn model.cell=gru model.bidirectional=true model.readout=mean data=mnist1d': Run(extra=('trainer.max_epochs=1', 'model.hidden=8')),
    'nnx model=mpl': Run(extra=(), expect=(), code=2),
    'nnx model.hidden=abc': Run(extra=(), expect=(), code=2),
    'nnx data=mnist data.download=true': External('downloads MNIST (the suite is offline); reading the files: tests/unit/test_image_sets.py'),
    'nnx experiment=seed_cnn data=mnist': Covered('tests/e2e/test_data_training.py::test_mnist_files_train_a_model'),
    'nnx data=fashion_mnist data.limit=5000': Covered('tests/unit/test_image_sets.py::test_flatten_and_limit'),
    'nnx data=cifar10 data.root=/data/vision model=cnn': Covered('tests/unit/test_image_sets.py::test_cifar10_loads_pickle_batches'),
    'nnx data=mnist': Run(extra=(), expect=('MNIST files not found (or corrupted) in', 'data.download=true'), code=2, output=False),
    'nnx data=csv data.path=examples/data/churn.csv data.target=churned data.classes=[no,yes] data.missing=mean data.batch_size=64': Covered('tests/e2e/test_data_cli.py::test_csv_on_the_shipped_churn_example_beats_the_majority_class'),
    'nnx experiment=churn_mlp': Covered('tests/e2e/test_data_cli.py::test_churn_experiment_and_balanced_class_weights'),
    'nnx experiment=forecast_rnn': Run(),
    'nnx data=timeseries data.source=ar model=gru': Run(),
    'nnx data=timeseries data.path=load.csv data.column=megawatts data.window=48 data.horizon=6 model=lstm': Covered('tests/unit/test_timeseries.py::test_windows_and_targets_follow_the_series'),
    'nnx experiment=seed_cnn eval.folds=5 optimized_metric=val/acc': Covered('tests/e2e/test_crossval.py::test_five_fold_cnn_on_digits_reports_mean_std_and_logs_child_runs'),
    "pip install 'nnx[export]'": External('installs system or Python packages'),
    'nnx-export outputs/runs/<date>/<time> --format onnx --output churn.onnx': Covered('tests/e2e/test_export.py::test_csv_with_categoricals_exports_preprocessing_in_the_graph'),
    'python -c "from nnx.data.files import write_image_folder; write_image_folder(\'imgs\', 20)"': Covered('tests/e2e/test_images.py::test_images_page_commands_run_and_predict_by_class_name'),
    'nnx data=image_folder data.path=imgs model=cnn trainer.max_epochs=2 output_dir=runs/cnn tracking=none': Covered('tests/e2e/test_images.py::test_images_page_commands_run_and_predict_by_class_name'),
    'nnx data=image_folder data.path=imgs data.cache=disk data.cache_dir=cache data.workers=2 model=cnn trainer.max_epochs=1 tracking=none': Covered('tests/e2e/test_images.py::test_images_page_commands_run_and_predict_by_class_name'),
    "nnx data=image_folder data.path=imgs 'data.augment=[horizontal_flip,{rotation:15},{center_crop:[16,16]}]' model=cnn trainer.max_epochs=1 tracking=none": Covered('tests/e2e/test_images.py::test_images_page_commands_run_and_predict_by_class_name'),
    'python -c "import torch, torchvision; torch.save(torchvision.models.resnet18().state_dict(), \'resnet18.pt\')"': Covered('tests/e2e/test_images.py::test_resnet18_from_a_local_file_frozen_then_unfrozen'),
    'nnx data=image_folder data.path=imgs data.image_size=[32] data.normalize=imagenet model=torchvision model.weights=resnet18.pt model.freeze_backbone_epochs=1 optimizer.backbone_lr_scale=0.1 trainer.max_epochs=1 tracking=none': Covered('tests/e2e/test_images.py::test_resnet18_from_a_local_file_frozen_then_unfrozen'),
    'nnx-predict runs/cnn --input imgs/fox': Covered('tests/e2e/test_images.py::test_images_page_commands_run_and_predict_by_class_name'),
    'nnx-predict runs/cnn --input imgs/cat/00001.png': Covered('tests/e2e/test_images.py::test_images_page_commands_run_and_predict_by_class_name'),
    'make docs': Covered('tests/e2e/test_docs.py::test_api_reference_renders_docstrings'),
    'nnx experiment=perceptron_gates': Covered('tests/e2e/test_zoo_experiments.py::test_perceptron_gates_prints_which_gates_it_learned'),
    'nnx model=mlp model.hidden=[64,32] model.activation=tanh optimizer=sgd optimizer.lr=0.01 optimizer.momentum=0.9': Run(),
    'nnx data=mnist1d trainer.max_epochs=30': Run(),
    'nnx --cfg job': Run(extra=(), expect=('model:\n  name: mlp', 'optimizer:\n  name: adam')),
    'nnx-plugins': Run(extra=(), expect=('model (select with model=NAME)', 'data (select with data=NAME)')),
    'make test-fast': External("a subset of this suite (-m 'not slow and not e2e')"),
    'make lint': Covered('tests/unit/test_architecture.py::test_lint_rules_hold'),
    'make bench': External('a benchmark: minutes of timing printed as ratios, never asserted (DESIGN.md); run by hand'),
    'nnx data=breast_cancer': Run(expect=('test/auroc', 'test/average_precision')),
    'nnx metrics=[acc,f1] optimized_metric=val/f1': Run(expect=('test/f1',)),
    "nnx data=timeseries model=gru 'metrics=[auto,r2]'": Run(expect=('test/r2', 'test/mae')),
    'nnx metrics=[f1] metrics.f1.average=weighted optimized_metric=val/f1': Run(expect=('test/f1',)),
    'nnx metrics=[acc] callbacks=[early_stopping] callbacks.early_stopping.monitor=val/auroc': Run(expect=(), code=2),
    'export MLFLOW_TRACKING_URI=https://mlflow.example.org': External('sets a variable for the commands after it'),
    'nnx tracking.experiment=vision': Covered('tests/e2e/test_tracking_env.py::test_every_command_reads_the_variable_and_an_explicit_uri_wins'),
    'nnx-compare --experiment vision': Covered('tests/e2e/test_tracking_env.py::test_every_command_reads_the_variable_and_an_explicit_uri_wins'),
    'nnx optimized_metric=val/presicion': Run(extra=(), expect=(), code=2),
    'nnx data=iris loss=cross_entropy loss.label_smoothing=0.1': Run(),
    'nnx data=breast_cancer loss.class_weights=balanced': Run(),
    'nnx data=breast_cancer loss=focal loss.gamma=2 loss.alpha=0.75': Run(),
    'nnx data=timeseries model=gru loss=huber loss.delta=0.5': Run(),
    'nnx loss=binary_cross_entropy': Run(extra=(), expect=(), code=2),
    'nnx data=breast_cancer eval.threshold=0.3': Run(),
    'nnx data=breast_cancer eval.threshold=tuned': Run(),
    'nnx-evaluate outputs/runs/2026-12-06/03-51-10-123456 --input labelled.csv --output report/': Covered('tests/e2e/test_evaluation.py::test_a_multiclass_run_reports_and_nnx_evaluate_reproduces_it'),
    'nnx-evaluate 44f50e3b869843fe81c078cfc317a556 --input labelled.csv --log': Covered('tests/e2e/test_evaluation.py::test_the_tuned_threshold_is_recorded_and_used_everywhere'),
    'nnx-evaluate outputs/runs/2026-12-06/04-02-31-654321 --input images.npy --labels labels.npy': Covered('tests/unit/test_report.py::test_labelled_rows_by_name_or_by_code'),
    'nnx-evaluate outputs/runs/... --input unseen.csv': Covered('tests/e2e/test_evaluation.py::test_nnx_evaluate_bad_input_is_one_line_exit_2'),
    'nnx data=iris': Run(expect=('results  test/acc', 'baseline test/baseline_acc'), output=False),
    'nnx data=iris eval.seeds=3 optimized_metric=val/acc': Run(expect=('seeds: 3 (42, 43, 44)', '<- optimized_metric'), output=False),
    'nnx data=csv data.path=churn.csv data.target=label': Covered('tests/unit/test_csv_table.py'),
    'nnx-predict outputs/runs/2026-11-25/21-15-22 --input new_customers.csv --output predictions.csv': Covered('tests/e2e/test_predict.py::test_nnx_predict_by_run_id_and_by_run_dir'),
    'nnx-predict 44f50e3b869843fe81c078cfc317a556 --input new_customers.csv': Covered('tests/e2e/test_predict.py::test_nnx_predict_by_run_id_and_by_run_dir'),
    'nnx-predict outputs/runs/... --input unseen.csv': Covered('tests/unit/test_predictor.py'),
    'nnx-predict outputs/runs/2026-12-06/03-51-10-123456 --input tumours.csv': Covered('tests/e2e/test_evaluation.py::test_the_tuned_threshold_is_recorded_and_used_everywhere'),
    'nnx-predict outputs/runs/<k-fold run> --input new.csv --output predictions.csv': Covered('tests/e2e/test_ensemble.py::test_a_kfold_parent_predicts_the_mean_of_its_folds'),
    'nnx data=iris tracking.log_model=true': Covered('tests/e2e/test_predict.py::test_mlflow_models_serve_answers_a_real_request'),
    'export MLFLOW_TRACKING_URI=sqlite:///outputs/mlflow.db': External('sets a variable for the commands after it'),
    'mlflow models serve -m runs:/<run id>/model --env-manager local -h 127.0.0.1 -p 5001': Covered('tests/e2e/test_predict.py::test_mlflow_models_serve_answers_a_real_request'),
    'curl -s 127.0.0.1:5001/invocations -H \'Content-Type: application/json\' -d \'{"dataframe_split": {"columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"], "data": [[5.1, 3.5, 1.4, 0.2]]}}\'': Covered('tests/e2e/test_predict.py::test_mlflow_models_serve_answers_a_real_request'),
    'nnx rerun=0beb2d781b0444ba95dbb69846b6c1f5': Covered('tests/e2e/test_rerun.py::test_rerun_matches_and_an_override_changes_it'),
    'nnx rerun=0beb2d781b0444ba95dbb69846b6c1f5 optimizer.lr=0.05': Covered('tests/e2e/test_rerun.py::test_rerun_matches_and_an_override_changes_it'),
    'nnx data=iris tracking.register=iris': Covered('tests/e2e/test_registry.py::test_a_run_registers_its_model_and_takes_the_alias'),
    'nnx -m data=iris optimizer.lr=0.001,0.01 tracking.register=iris': Covered('tests/e2e/test_registry.py::test_sweeps_register_their_best_trial_gated_by_the_champion'),
    'nnx-predict models:/iris@champion --input new.csv': Covered('tests/e2e/test_registry.py::test_a_run_registers_its_model_and_takes_the_alias'),
    'nnx model.activation=relux': Run(extra=(), expect=(), code=2),
    'nnx trainer.accelerator=mps': Run(extra=(), expect=(), code=2),
    'nnx resume=4ddd8ecf05d546899a1fefcf3fa3b545': Covered('tests/e2e/test_faults.py::test_a_stop_signal_ends_the_epoch_cleanly_and_resume_continues'),
    'nnx resume=outputs/runs/2026-11-25/01-35-52-266123 trainer.max_epochs=40': Covered('tests/e2e/test_callbacks.py::test_early_stopping_alone_leaves_last_ckpt_that_resume_continues'),
    'nnx trainer=gpu': External('needs a GPU; its config: tests/unit/test_scale_configs.py'),
    'nnx trainer=ddp trainer.accelerator=gpu trainer.devices=4 trainer.precision=bf16-mixed': External('needs 4 GPUs; DDP itself: tests/e2e/test_scale.py (2 CPU processes)'),
    'nnx trainer=ddp trainer.accelerator=cpu trainer.devices=2': Covered('tests/e2e/test_scale.py::test_ddp_on_two_cpu_processes_logs_one_run'),
    'nnx -m hydra/launcher=submitit_local model.hidden=[64],[128]': Covered('tests/e2e/test_scale.py::test_submitit_local_sweep_nests_trials_under_the_parent'),
    'nnx -m hydra/launcher=slurm hydra.launcher.partition=gpu model=mlp,cnn tracking.uri=http://HOST:5000': External('needs a SLURM cluster; its launcher config: tests/unit/test_scale_configs.py'),
    'sudo apt-get install postgresql': External('installs system or Python packages'),
    'sudo -u postgres createuser --pwprompt mlflow': External('installs system or Python packages'),
    'sudo -u postgres createdb --owner mlflow mlflow': External('installs system or Python packages'),
    'mlflow server --backend-store-uri postgresql://mlflow:PASSWORD@127.0.0.1:5432/mlflow --artifacts-destination /srv/mlflow-artifacts --host 0.0.0.0 --port 5000': Covered('tests/e2e/test_postgres.py::test_a_sweep_logs_into_mlflow_server_on_postgresql'),
    'nnx -m model=mlp,cnn tracking.uri=http://SERVER:5000 tracking.experiment=team': Covered('tests/e2e/test_team_server.py::test_a_sweep_over_http_nests_trials_and_stores_artifacts'),
    'nnx -m hparams_search=mlp_optuna hydra.sweeper.n_trials=40': Covered('tests/e2e/test_search.py::test_a_search_resumes_to_n_trials_and_its_parent_shows_the_study'),
    'nnx -m hparams_search=mlp_optuna hydra.sweeper.n_jobs=2': Covered('tests/e2e/test_search.py::test_two_workers_share_one_study_without_duplicate_trials'),
    'nnx -m hparams_search=cnn_optuna hydra/sweeper/pruner=median': Covered('tests/e2e/test_search.py::test_pruned_trials_end_killed_and_tagged_in_mlflow_and_pruned_in_optuna'),
    'nnx -m hparams_search=mlp_optuna hydra/sweeper/sampler=random': Run(extra=('hydra.sweeper.n_trials=2', 'trainer.max_epochs=1', 'hydra.sweeper.study_name=docs-random'), expect=('sweep: 2 trials, 2 finished',)),
    "nnx -m hparams_search=mlp_optuna 'hydra.sweeper.direction=[minimize,maximize]' 'hydra.sweeper.metrics=[val/loss,train/seconds]'": Covered('tests/e2e/test_search.py::test_multi_objective_search_puts_the_pareto_front_on_its_parent'),
    'optuna-dashboard outputs/optuna.journal': External("Optuna's own web app on the journal a search writes (tests/e2e/test_search.py)"),
    'pip install optuna-dashboard': External('installs system or Python packages'),
    'optuna-dashboard postgresql://me@db/optuna': External("Optuna's own web app on the journal a search writes (tests/e2e/test_search.py)"),
    'python benchmarks/search.py workers': External('a benchmark: minutes of timing printed as ratios, never asserted (DESIGN.md); run by hand'),
    'python benchmarks/search.py pruning': External('a benchmark: minutes of timing printed as ratios, never asserted (DESIGN.md); run by hand'),
    'python benchmarks/optuna_storage.py': External('a benchmark: minutes of timing printed as ratios, never asserted (DESIGN.md); run by hand'),
    'nnx -m optimizer.lr=1e-3,3e-3,1e-2,3e-2 hydra/launcher=joblib hydra.launcher.n_jobs=2': Covered('tests/e2e/test_sweeps.py::test_joblib_sweep_survives_a_poisoned_trial'),
    'nnx -m hparams_search=mlp_optuna hydra.sweeper.n_trials=6 hydra.sweeper.n_jobs=2': Covered('tests/e2e/test_search.py::test_two_workers_share_one_study_without_duplicate_trials'),
    'nnx -m hparams_search=cnn_optuna': Covered('tests/e2e/test_search.py::test_the_shipped_cnn_search_runs'),
    'nnx -m model.hidden=[32],[128] eval.folds=5': Run(extra=('trainer.max_epochs=1', 'eval.folds=2'), expect=('2 trials, 2 finished',)),
    'nnx -m optimizer.lr=0.01,-1': Covered('tests/e2e/test_sweeps.py::test_a_bad_grid_value_fails_before_any_trial'),
    'nnx -m optimizer.lr=1e30,0.01 data=iris trainer.max_epochs=1 sweep.allow_failures=true': Covered('tests/e2e/test_sweeps.py::test_failed_trials_are_allowed_with_sweep_allow_failures'),
    'nnx -m model.hidden=[32],[128] optimizer=adam,sgd sweep.skip_finished=true': Covered('tests/e2e/test_sweeps.py::test_basic_sweep_is_a_parent_with_children_and_resumes'),
    'python benchmarks/sweep_parallel.py --control': External('a benchmark: minutes of timing printed as ratios, never asserted (DESIGN.md); run by hand'),
    'python benchmarks/sweep_parallel.py --data mnist1d --epochs 40': External('a benchmark: minutes of timing printed as ratios, never asserted (DESIGN.md); run by hand'),
    "pip install 'nnx[team]'": External('installs system or Python packages'),
    'export MLFLOW_AUTH_CONFIG_PATH=/etc/mlflow/basic_auth.ini': External('sets a variable for the commands after it'),
    "export MLFLOW_AUTH_ADMIN_PASSWORD='a-long-admin-password'": External('sets a variable for the commands after it'),
    'export MLFLOW_FLASK_SERVER_SECRET_KEY="$(openssl rand -hex 32)"': External('sets a variable for the commands after it'),
    'mlflow server --app-name basic-auth --backend-store-uri postgresql://mlflow:PASSWORD@127.0.0.1:5432/mlflow --artifacts-destination /srv/mlflow/artifacts --host 0.0.0.0 --port 5000': Covered('tests/e2e/test_team_server.py::test_a_member_with_credentials_in_the_uri_logs_a_sweep'),
    'export MLFLOW_TRACKING_USERNAME=alice': External('sets a variable for the commands after it'),
    "export MLFLOW_TRACKING_PASSWORD='her-password'": External('sets a variable for the commands after it'),
    'nnx tracking.uri=https://mlflow.example.org tracking.experiment=vision': Covered('tests/e2e/test_team_server.py::test_mlflow_variables_work_and_are_not_echoed'),
    'nnx -m tracking.uri=https://alice:her-password@mlflow.example.org model=mlp,cnn': Covered('tests/e2e/test_team_server.py::test_a_member_with_credentials_in_the_uri_logs_a_sweep'),
    'mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db': Covered('tests/e2e/test_team_server.py::test_nnx_ui_shows_the_sweep_in_a_browser_and_sigterm_stops_its_server_tree'),
    'python benchmarks/tracking_overhead.py --rounds 5 --compare-to /tmp/before': External('a benchmark: minutes of timing printed as ratios, never asserted (DESIGN.md); run by hand'),
    'nnx-ui --experiment mine --port 5001 --uri sqlite:///elsewhere/mlflow.db': Covered('tests/e2e/test_team_server.py::test_nnx_ui_shows_the_sweep_in_a_browser_and_sigterm_stops_its_server_tree'),
    'nnx callbacks=[early_stopping,checkpoint]': Run(),
    'nnx callbacks=early_stopping callbacks.early_stopping.patience=3': Run(),
    'nnx +callbacks.early_stopping.patience=3': Run(),
    'nnx -m callbacks=[early_stopping],[early_stopping,swa]': Run(expect=('2 trials, 2 finished',)),
    'nnx -m callbacks=[early_stopping] callbacks.early_stopping.patience=3,10': Run(expect=('2 trials, 2 finished',)),
}

_SHOWN = shown_commands()
_RUNS = {command: check for command, check in CHECKS.items() if isinstance(check, Run)}


def test_every_shown_command_is_checked() -> None:
    shown = {s.command for s in _SHOWN}
    missing = sorted(shown - set(CHECKS))
    assert not missing, ("commands shown in the docs without a check: add each to CHECKS in "
                         f"tests/e2e/test_docs_commands.py (Run, Covered or External): {missing}")
    stale = sorted(set(CHECKS) - shown)
    assert not stale, f"CHECKS entries no page shows any more: {stale}"


def test_every_covering_test_exists() -> None:
    for command, check in CHECKS.items():
        if isinstance(check, Covered):
            path, _, name = check.test.partition("::")
            assert (ROOT / path).is_file(), (command, check.test)
            assert not name or f"def {name}(" in (ROOT / path).read_text(), (command, check.test)


def _promised(command: str) -> list[str]:
    """The output lines a text block shows after ``command`` ('...' stands for anything)."""
    return [line for s in _SHOWN if s.command == command for line in s.output]


def _matches(line: str, text: str) -> bool:
    pattern = ".*?".join(re.escape(part.strip()) for part in line.split("..."))
    return re.search(pattern, text) is not None


@pytest.mark.slow
@pytest.mark.parametrize("command", list(_RUNS))
def test_a_shown_command_runs_as_promised(command: str, monkeypatch, capsys, tmp_path: Path,
                                          mlflow_uri: str) -> None:
    check = _RUNS[command]
    program, *args = shlex.split(command)
    if program == "nnx":
        tracking = [f"tracking.uri={mlflow_uri}", "tracking.experiment=docs"] if check.tracked else ["tracking=none"]
        keep = [*tracking, "trainer.progress=false"]
        if any(arg.startswith("hparams_search=") for arg in args):
            # a search's trials take torch threads = cores // n_jobs (2 here); in this process
            # they get what this test process has (1 per xdist worker), as every other run
            # here: 2 threads spin against the other worker's (a 2-trial search measured
            # 5.3 CPU-s with 2 threads, 2.5 with 1)
            import torch

            keep.append(f"hydra.sweeper.torch_threads={torch.get_num_threads()}")
        flags = [a for a in args if a.startswith("-")]
        rest = [a for a in args if not a.startswith("-")]
        outcome = run_cli([*flags, *rest, *keep, *check.extra], monkeypatch, capsys, tmp_path)
        code, text = outcome.code, outcome.text
    else:
        assert program == "nnx-plugins", f"no in-process runner for {program}"
        from nnx.cli.plugins import main

        main(args)
        code, text = 0, capsys.readouterr().out
    assert code == check.code, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    for expected in check.expect:
        assert expected in text, (expected, text[-3000:])
    for line in _promised(command) if check.output else ():
        assert _matches(line, text), (line, text[-3000:])
