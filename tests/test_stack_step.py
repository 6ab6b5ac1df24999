"""A stack's step replayed from a graph is the step as written (lrlab.stack_step).

No CUDA here, so `TracedReplay` stands in for lrlab.stack_step.CudaGraphs with the semantics that
matter: capture runs the step's Python once and keeps its kernels (make_fx records the operators
below autograd and vmap, every number not in a tensor frozen at its capture value), and a replay runs
those kernels again, on whatever the step's tensors hold then. A per-step value the graph does not read
from a tensor (an LR passed as a Python float, say) stays at its capture value and the histories part.
Under capture it also refuses what a CUDA graph cannot hold: a value read back to the host (item,
bool of a tensor, nonzero) or a tensor made from host data.
"""
import pytest
import torch
from torch.fx.experimental.proxy_tensor import make_fx
from torch.utils._python_dispatch import TorchDispatchMode

from lrlab.calibrate import check_cuda_graphs
from lrlab.config import RunConfig
from lrlab.errors import LrlabError
from lrlab.stack_step import WARMUP_STEPS, cuda_graphs_for, graph_families, graphs_wanted
from lrlab.stacked import train_stacked

HOST_VALUES = {"aten._local_scalar_dense", "aten.nonzero", "aten.is_nonzero", "aten.lift_fresh",
               "aten.lift_fresh_copy", "aten.equal"}
MLP = RunConfig(model="mlp", width=32, optimizer="sgd", lr=0.05, epochs=3, batch_size=20, augment="crop+flip",
                train_per_class=20, test_per_class=5, precision="fp32")     # 10 steps an epoch


class NoHostValues(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func.overloadpacket) in HOST_VALUES:
            raise AssertionError(f"{func} under capture: a CUDA graph cannot hold it")
        return func(*args, **(kwargs or {}))


class TracedReplay:
    """CudaGraphs's contract, on the CPU (see the module docstring)."""

    def __init__(self):
        self.captures, self.replays = 0, 0

    def eager(self, fn):
        return fn()

    def capture(self, fn):
        self.captures += 1
        def guarded():
            with NoHostValues():   # above make_fx's own mode: it sees each operator first
                fn()
        traced = make_fx(guarded)()   # make_fx runs the step while it records it: that is the first replay's step
        pending = [True]

        def replay():
            self.replays += 1
            if pending.pop() if pending else False:
                return
            with torch.no_grad():   # the recorded kernels include the backward's
                traced()
        return replay


def same_histories(configs, data, captures=1):
    graphs = TracedReplay()
    replayed = train_stacked(configs, data=data, progress=False, graphs=graphs)
    as_written = train_stacked(configs, data=data, progress=False, graphs=None)
    for mine, theirs in zip(replayed, as_written):
        assert (mine["status"], mine["final"]["steps"]) == (theirs["status"], theirs["final"]["steps"])
        assert [{k: v for k, v in h.items() if k != "seconds"} for h in mine["history"]] == \
               [{k: v for k, v in h.items() if k != "seconds"} for h in theirs["history"]]
        assert mine["env"]["cuda_graph"] is True and theirs["env"]["cuda_graph"] is False
    assert graphs.captures == captures and graphs.replays > 0
    return replayed


def test_replayed_sgd_steps_read_each_steps_lr_momentum_and_decay(cifar, float64):
    same_histories([MLP, MLP.replace(lr=0.1, seed=1, momentum=0.0),
                    MLP.replace(optimizer="sgdw", weight_decay=1e-2, momentum=0.5, seed=2),
                    MLP.replace(schedule="one_cycle", lr=0.2, seed=4),            # LR and momentum move every step
                    MLP.replace(schedule="warmup_multistep", schedule_args={"warmup": 0.2, "start_ratio": 0.1})],
                   cifar)


def test_replayed_adam_steps_read_each_steps_bias_corrections(cifar, float64):
    adam = MLP.replace(optimizer="adam", lr=1e-3)
    same_histories([adam, adam.replace(optimizer="adamw", weight_decay=0.1, seed=1),
                    adam.replace(schedule="one_cycle", lr=3e-3, seed=2),
                    adam.replace(schedule="reduce_on_plateau", schedule_args={"patience": 0}, seed=3)], cifar)


def test_a_member_leaving_the_stack_makes_a_new_graph(cifar, float64):
    long_epochs = MLP.replace(epochs=2, steps_per_epoch=40)    # diverges at the check of step 16
    records = same_histories([long_epochs, long_epochs.replace(lr=50.0, seed=1), long_epochs.replace(lr=0.02)],
                             cifar, captures=2)
    assert [r["status"] for r in records] == ["completed", "diverged", "completed"]


def test_replayed_resnet_steps_with_batchnorm_and_accumulation(cifar, float64):
    resnet = RunConfig(model="resnet8", lr=0.05, epochs=2, steps_per_epoch=6, batch_size=16, train_per_class=10,
                       test_per_class=4, precision="fp32", schedule="one_cycle", micro_batch=8, nesterov=True)
    same_histories([resnet, resnet.replace(optimizer="sgdw", lr=0.1, weight_decay=5e-3, seed=1)], cifar)


def test_a_lone_run_replayed_as_a_stack_of_one_is_its_single_run(cifar, float64):
    """What a headline run does on a GPU where a graphed stack of one measured faster (lrlab.stacking)."""
    from lrlab.train import train
    resnet = RunConfig(model="resnet8", lr=0.05, epochs=2, steps_per_epoch=6, batch_size=16, train_per_class=10,
                       test_per_class=4, precision="fp32", schedule="one_cycle", micro_batch=8)
    [replayed] = same_histories([resnet], cifar)
    single = train(resnet, data=cifar, progress=False)
    assert replayed["packed_with"] == 1 and replayed["final"]["steps"] == single["final"]["steps"] == 12
    for mine, theirs in zip(replayed["history"], single["history"], strict=True):
        for key in ("lr", "train_loss", "train_acc", "test_loss", "test_acc"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-9, abs=0), key


def test_replayed_gpt_steps_with_the_stacked_attention_and_clipping(float64, data_root):
    from lrlab.data import load_tiny_shakespeare
    gpt = RunConfig(task="shakespeare", model="chargpt", width=32, depth=1, block_size=16, batch_size=8, epochs=2,
                    steps_per_epoch=8, optimizer="adamw", lr=3e-3, weight_decay=0.1, schedule="warmup_cosine",
                    schedule_args={"warmup": 0.2}, grad_clip=0.5, augment="none", precision="fp32")
    same_histories([gpt, gpt.replace(lr=1e-2, seed=1)], load_tiny_shakespeare(data_root))


def test_a_number_the_graph_would_freeze_is_caught(cifar, float64, monkeypatch):
    """The test's own test: an LR that reaches the update as a Python number, not through the table,
    stays at its capture value in the replays, and the histories part."""
    from lrlab import stacked_optim
    prepare, sgd, host = stacked_optim.StackedOptimizer.prepare, stacked_optim._sgd, {}

    def prepare_a_host_lr(self):
        branches = prepare(self)
        host["neg_lr"] = self._hyperparameters()["neg_lr"][0, 0].item()
        return branches

    def update_with_the_host_lr(p, grad, buf, h, nesterov, zero_momentum):
        return sgd(p, grad, buf, dict(h, neg_lr=torch.full_like(h["neg_lr"], host["neg_lr"])), nesterov, zero_momentum)
    monkeypatch.setattr(stacked_optim.StackedOptimizer, "prepare", prepare_a_host_lr)
    monkeypatch.setattr(stacked_optim, "_sgd", update_with_the_host_lr)
    with pytest.raises(AssertionError):
        same_histories([MLP.replace(schedule="one_cycle", lr=0.2)], cifar)


def test_a_value_read_back_to_the_host_under_capture_is_refused(cifar, float64, monkeypatch):
    from lrlab import stacked_optim
    sgd = stacked_optim._sgd

    def update_reading_the_lr_back(p, grad, buf, h, nesterov, zero_momentum):
        return sgd(p, grad, buf, dict(h, neg_lr=h["neg_lr"] * float(h["neg_lr"].max() < 0)), nesterov, zero_momentum)
    monkeypatch.setattr(stacked_optim, "_sgd", update_reading_the_lr_back)
    with pytest.warns(UserWarning, match="capture failed"):
        records = train_stacked([MLP], data=cifar, progress=False, graphs=TracedReplay())
    assert "_local_scalar_dense" in records[0]["env"]["cuda_graph"] and "cannot hold" in records[0]["env"]["cuda_graph"]


def test_a_capture_that_fails_leaves_the_steps_as_written_and_the_records_say_so(cifar, float64):
    class Refuses(TracedReplay):
        def capture(self, fn):
            raise RuntimeError("operation not permitted when stream is capturing")
    with pytest.warns(UserWarning, match="capture failed"):
        failed = train_stacked([MLP, MLP.replace(seed=1)], data=cifar, progress=False, graphs=Refuses())
    as_written = train_stacked([MLP, MLP.replace(seed=1)], data=cifar, progress=False, graphs=None)
    assert [r["history"][-1]["train_loss"] for r in failed] == [r["history"][-1]["train_loss"] for r in as_written]
    assert failed[0]["env"]["cuda_graph"].startswith("failed: RuntimeError: operation not permitted")


def test_graphs_are_for_gpus_and_a_job_can_turn_them_off_by_family(monkeypatch):
    monkeypatch.delenv("LRLAB_CUDA_GRAPHS", raising=False)
    assert cuda_graphs_for("cpu", "mlp") is None and graph_families("cpu") == []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert graph_families("cuda") == ["resnet", "mlp", "chargpt"] and graphs_wanted("cuda", "resnet20")
    monkeypatch.setenv("LRLAB_CUDA_GRAPHS", "resnet,mlp")
    assert graphs_wanted("cuda", "resnet56") and not graphs_wanted("cuda", "chargpt")
    monkeypatch.setenv("LRLAB_CUDA_GRAPHS", "0")
    assert graph_families("cuda") == [] and cuda_graphs_for("cuda", "mlp") is None
    monkeypatch.setenv("LRLAB_CUDA_GRAPHS", "resnet,gpt")
    with pytest.raises(LrlabError, match="unknown model family 'gpt'; valid: 0, 1, or a comma list of resnet, mlp"):
        graph_families("cuda")
    assert WARMUP_STEPS >= 1   # a new shape runs as written once before capture (cuBLAS, optimizer state)


def test_the_jobs_graph_check_keeps_the_families_whose_replays_match(monkeypatch):
    import os
    monkeypatch.delenv("LRLAB_CUDA_GRAPHS", raising=False)
    lines = []
    verdicts = check_cuda_graphs("cpu", lines.append, make_graphs=TracedReplay)
    assert list(verdicts) == ["resnet", "mlp", "chargpt"]
    assert all(v["ok"] and v["worst"] <= 1e-3 and v["error"] is None for v in verdicts.values())
    assert "LRLAB_CUDA_GRAPHS" not in os.environ and all("match steps as written" in line for line in lines)

    class SkipsReplays(TracedReplay):   # a graph whose replays do nothing: the losses part
        def capture(self, fn):
            super().capture(fn)
            return lambda: None

    class Refuses(TracedReplay):
        def capture(self, fn):
            raise RuntimeError("operation not permitted when stream is capturing")
    made = iter([TracedReplay(), Refuses()])   # mlp, then chargpt
    with pytest.warns(UserWarning, match="capture failed"):
        verdicts = check_cuda_graphs("cpu", lines.append, families=["mlp", "chargpt"], make_graphs=lambda: next(made))
    assert [v["ok"] for v in verdicts.values()] == [True, False] and "did not replay" in verdicts["chargpt"]["error"]
    assert os.environ["LRLAB_CUDA_GRAPHS"] == "mlp" and "chargpt stacks: off for this job" in lines[-1]
    verdicts = check_cuda_graphs("cpu", lines.append, families=["mlp"], make_graphs=SkipsReplays)
    assert not verdicts["mlp"]["ok"] and verdicts["mlp"]["worst"] > 1e-3 and "replayed losses differ" in lines[-1]
    assert os.environ["LRLAB_CUDA_GRAPHS"] == "0"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the real graphs")
def test_on_a_gpu_replayed_steps_match_steps_as_written(monkeypatch):
    monkeypatch.delenv("LRLAB_CUDA_GRAPHS", raising=False)
    verdicts = check_cuda_graphs("cuda", log=lambda line: None)
    assert all(v["ok"] for v in verdicts.values()), verdicts
