"""What the tests and the benchmarks share: servers to test against and ways to drive them.

Nothing here is part of the service; it is installed with the project so that ``tests/``
and ``bench/`` import it by name (it needs the ``dev`` extra: pytest, psutil).

- :mod:`~hotline.testing.harness`: a real server in the test's event loop on an ephemeral
  port (:func:`~hotline.testing.harness.running_server`) or in a child process to kill
  (:class:`~hotline.testing.harness.ServerProcess`), tokens, stations, and waits on
  deliveries;
- :mod:`~hotline.testing.drill`: the switchboard in the test's event loop with a clock the
  test moves, for deadline and escalation logic without network or sleeps;
- :mod:`~hotline.testing.mosquitto`, :mod:`~hotline.testing.postgres`: throwaway Mosquitto
  and PostgreSQL servers from the real binaries;
- :mod:`~hotline.testing.bridge`, :mod:`~hotline.testing.feeds`: a switchboard with an MQTT
  bridge and no gRPC, and position feeds as a party publishes them;
- :mod:`~hotline.testing.recorded`: exercises recorded once through a real server, a copy
  of the log per test;
- :mod:`~hotline.testing.audit_logs`: log records, audit trails and raw SQL for the tests
  of the log store;
- :mod:`~hotline.testing.commands`: the ``hotline`` command run in-process;
- :mod:`~hotline.testing.fixtures`: the pytest fixtures of all of the above.
"""
