"""The engines that run shard annotation: in this process, or on Ray."""
import json
import os
from dataclasses import replace
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..extras import import_extra
from .annotator import AnnotatorSpec, ShardAnnotator
from .inputs import Shard

ENGINES = ("local", "ray")
# A shard whose worker keeps dying is given up after this many tries, rather
# than retried for ever (Ray's default for Ray Data actors).
MAX_RETRIES = 3


def run_local(spec: AnnotatorSpec, shards: Sequence[Shard], on_docs: Optional[Callable[[int], None]] = None) -> List[Dict[str, Any]]:
    """Annotate shards one after another in this process.

    spec (AnnotatorSpec): Pipeline and output settings.
    shards (Sequence[Shard]): The shards to do.
    on_docs (Optional[Callable[[int], None]]): Progress callback, per batch.
    RETURNS (List[Dict[str, Any]]): Each shard's result (`annotate_shard`).
    """
    if not shards:
        return []
    annotator = ShardAnnotator(spec)
    return [annotator.annotate_shard(shard, on_docs) for shard in shards]


def run_ray(
    spec: AnnotatorSpec,
    shards: Sequence[Shard],
    *,
    workers: int = 1,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    address: Optional[str] = None,
    on_docs: Optional[Callable[[int], None]] = None,
) -> List[Dict[str, Any]]:
    """Annotate shards with Ray Data: `map_batches` over the shard list with
    a pool of `workers` actors, each loading the pipeline once. An actor whose
    process dies is restarted and its shard redone (up to `MAX_RETRIES`
    times); a redone shard replaces its file whole.

    spec (AnnotatorSpec): Pipeline and output settings.
    shards (Sequence[Shard]): The shards to do.
    workers (int): Actors.
    cpus_per_worker (float): CPUs each actor reserves; also its torch threads
        (at least 1), unless `spec.threads` sets them.
    gpus_per_worker (float): GPUs each actor reserves; above 0 it runs on its GPU.
    address (Optional[str]): A Ray cluster to join ("auto", "ray://host:10001",
        ...); None, "" or "local": use the Ray instance this process has, or
        start a local one.
        The inputs and the output must be at the same paths on every node.
    on_docs (Optional[Callable[[int], None]]): Progress callback, per shard.
    RETURNS (List[Dict[str, Any]]): Each shard's result.
    """
    ray = import_extra("ray", "ray", "The ray engine")
    import_extra("ray.data", "ray", "The ray engine", provides=("ray",))
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if not shards:
        return []
    started_here = False
    if address in ("", "local"):
        address = None
    if not ray.is_initialized():
        kwargs: Dict[str, Any] = {"include_dashboard": False, "configure_logging": False}
        if address is None:
            # A local instance with at least the CPUs the workers reserve
            # (Ray would otherwise wait for them for ever).
            kwargs["num_cpus"] = max(os.cpu_count() or 1, int(workers * cpus_per_worker + 0.999))
        ray.init(address=address, **kwargs)
        started_here = True
    try:
        _check_resources(ray, workers, cpus_per_worker, gpus_per_worker)
        spec = replace(
            spec,
            threads=spec.threads or max(1, int(cpus_per_worker)),
            gpu_id=0 if gpus_per_worker > 0 else -1,
        )
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        dataset = ray.data.from_items([shard.to_dict() for shard in shards], override_num_blocks=len(shards))
        annotated = dataset.map_batches(
            ShardAnnotator,
            fn_constructor_kwargs={"spec": spec},
            batch_size=1,
            concurrency=min(workers, len(shards)),
            num_cpus=cpus_per_worker,
            num_gpus=gpus_per_worker or None,
            max_restarts=MAX_RETRIES,
            max_task_retries=MAX_RETRIES,
        )
        results = []
        for row in annotated.iter_rows():
            result = dict(row)
            result["entities"] = json.loads(result["entities"])
            results.append(result)
            if on_docs is not None:
                on_docs(result["documents"])
        return results
    finally:
        if started_here:
            ray.shutdown()


def _check_resources(ray, workers: int, cpus_per_worker: float, gpus_per_worker: float) -> None:
    have = ray.cluster_resources()
    for name, each in (("CPU", cpus_per_worker), ("GPU", gpus_per_worker)):
        need = workers * each
        if need > have.get(name, 0):
            raise ValueError(
                f"{workers} workers with {each:g} {name}s each need {need:g} {name}s; the Ray cluster has "
                f"{have.get(name, 0):g}"
            )
