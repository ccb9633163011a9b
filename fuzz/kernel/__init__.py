"""The kernel lane: run world workloads on the running Linux kernel and compare it to the reference.

`fuzz.kernel.device` owns swap devices and host settings, `fuzz.kernel.driver` turns actions
into syscalls in a pinned helper process, `fuzz.kernel.lane` compares every step with
`reference.ReferenceSwap` and writes/replays divergence traces.
"""
