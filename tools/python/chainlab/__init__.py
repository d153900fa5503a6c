"""chainlab: drive live chainlab clusters from Python tests.

`Cluster` starts `chainlab-sim serve` and runs steps of the scenario language through its HTTP
API; `chainlab.pytest_plugin` is a pytest plugin with the `chainlab_cluster` fixture. Needs the
standard library and `requests` only.
"""

from chainlab.cluster import (
    ChainlabError,
    Cluster,
    Node,
    StepFailed,
    StepsRejected,
    duration,
    find_sim,
    node_name,
    node_set,
    quote,
)

__all__ = ["ChainlabError", "Cluster", "Node", "StepFailed", "StepsRejected", "duration", "find_sim",
           "node_name", "node_set", "quote"]
