"""Cluster simulator for 3700kvstore replicas (run.py is its command line).

Runs N replica processes, plays the part of the network and of 8 clients,
injects drops, partitions and crashes, and grades the run.  What it does is
described in docs/simulator.md: the classic generation (Unix SEQPACKET, the
default) and the second generation (UDP on localhost, ``--transport udp``).
On top of that it adds seeds, a JSON record of every run, a linearizability
check of the recorded history and state events for the kvdash console.

Modules, each the one owner of its state:

* ``config``:          config files -> ``Config`` (``load_config``, ``validate_config``)
* ``ids``:             replica and client IDs, the broadcast address
* ``workload``:        seeded random streams; draws -> planned requests
* ``clients``:         ``ClientPool``: the 8 clients and every request they made
* ``processes``:       ``ReplicaSet``: replica processes and sockets (start, send, read, kill, stop)
* ``network``:         ``Network``: routing of packets, the partition, drops, the leader view
* ``faults``:          ``Faults``: the kill and partition events
* ``traffic``:         ``TrafficCounter``: per-window packet counts for the traffic events
* ``events``:          ``EventSink``: state events out (``--events``) and recorded (``--record``)
* ``simulation``:      ``Simulation``: the main loop; ``run_simulation`` -> ``RunResult``
* ``counters``, ``result``: the tallies and the outcome of a run
* ``grading``:         correctness checks, performance tiers, ``grade``
* ``linearizability``: per-key Wing-Gong check of the recorded history
* ``report``:          report text, ``all`` summary line, ``--json`` record
* ``cli``:             the command line (``main``)
* ``clock``, ``numeric``, ``signals``, ``errors``: small shared helpers

Standard library only; Python 3.9 or newer.
"""
