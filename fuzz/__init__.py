"""swapdiff's harness: drive two implementations of the swap API in lockstep and compare them.

`fuzz.world` models the rest of mm (processes, page tables, shmem, hibernation, swapoff) and
issues API calls through an executor; `fuzz.lockstep` is the executor that runs each call on
a reference and a candidate and raises `Divergence` on the first difference;
`fuzz.machine` wraps both in a Hypothesis state machine, with workload weights from
`fuzz.profiles`, choices from `fuzz.choosers`, coverage labels from `fuzz.events` and
settings profiles from `fuzz.settings`.  Traces, replay, campaigns and the CLI build on these.
"""
