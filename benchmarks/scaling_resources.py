"""The shared resources of the scaling model (scaling_model.py) in simpy: a level tracked over time, a
processor-sharing server (PostgreSQL's cores, the shared volume's bandwidth) and a FIFO resource with its users and
queue tracked (run slots, workers, the dbt pool, connections)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import simpy


class Tracker:
    """A level that changes at event times (a resource's users, a queue), averaged over any window later."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.times = [0.0]
        self.levels = [0.0]

    def set(self, level: float) -> None:
        if self.times[-1] == self.env.now:
            self.levels[-1] = level
        else:
            self.times.append(self.env.now)
            self.levels.append(level)

    def add(self, delta: float) -> None:
        self.set(self.levels[-1] + delta)

    def mean(self, t0: float, t1: float) -> float:
        if t1 <= t0:
            return self.levels[-1]
        times = np.asarray(self.times)
        ends = np.append(times[1:], np.inf)
        overlap = np.clip(np.minimum(ends, t1) - np.maximum(times, t0), 0, None)
        return float(np.dot(overlap, self.levels) / (t1 - t0))

    def peak(self, t0: float, t1: float) -> float:
        times = np.asarray(self.times)
        ends = np.append(times[1:], np.inf)
        inside = (ends > t0) & (times < t1)
        return float(np.max(np.asarray(self.levels)[inside])) if inside.any() else self.levels[-1]


@dataclass
class _Job:
    remaining: float
    max_rate: float
    done: simpy.Event
    rate: float = 0.0


class SharedServer:
    """Processor sharing: `capacity` units/s split evenly among the jobs in service (water-filling, each job at
    most its own max rate). Asking for more than the capacity costs `penalty` x the excess share of it (lock, WAL
    and context-switch contention in PostgreSQL). `demand` tracks the share of the capacity asked for (<= 1)."""

    def __init__(self, env: simpy.Environment, capacity: float, penalty: float = 0.0) -> None:
        self.env = env
        self.capacity = capacity
        self.penalty = penalty
        self.jobs: list[_Job] = []
        self.updated = 0.0
        self.version = 0
        self.demand = Tracker(env)
        self.in_service = Tracker(env)

    def serve(self, work: float, max_rate: float) -> simpy.Event:
        done = self.env.event()
        if work <= 0:
            done.succeed()
            return done
        self._advance()
        self.jobs.append(_Job(work, max_rate, done))
        self._reschedule()
        return done

    def _advance(self) -> None:
        dt = self.env.now - self.updated
        if dt > 0:
            for job in self.jobs:
                job.remaining -= job.rate * dt
        self.updated = self.env.now

    def _reschedule(self) -> None:
        asked = sum(job.max_rate for job in self.jobs)
        capacity = self.capacity
        if asked > capacity and self.penalty:
            capacity /= 1 + self.penalty * (asked / capacity - 1)
        left, n = capacity, len(self.jobs)
        for job in sorted(self.jobs, key=lambda j: j.max_rate):
            job.rate = min(job.max_rate, left / n)
            left -= job.rate
            n -= 1
        self.demand.set(min(asked, self.capacity) / self.capacity)
        self.in_service.set(len(self.jobs))
        self.version += 1
        if self.jobs:
            wait = min(job.remaining / job.rate for job in self.jobs)
            timer = self.env.timeout(max(wait, 0.0))
            timer.callbacks.append(partial(self._on_timer, self.version))

    def _on_timer(self, version: int, _event: simpy.Event) -> None:
        if version != self.version:
            return
        self._advance()
        finished = [job for job in self.jobs if job.remaining <= 1e-9 * max(1.0, job.max_rate)]
        for job in finished:
            self.jobs.remove(job)
            job.done.succeed()
        self._reschedule()


class TrackedResource:
    """A FIFO simpy resource with its users and its queue tracked over time."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.resource = simpy.Resource(env, capacity=capacity)
        self.capacity = capacity
        self.users = Tracker(env)
        self.queue = Tracker(env)

    def acquire(self):
        """Yield from this: waits for a slot, returns the request to release."""
        self.queue.add(1)
        request = self.resource.request()
        yield request
        self.queue.add(-1)
        self.users.add(1)
        return request

    def release(self, request) -> None:
        self.users.add(-1)
        self.resource.release(request)
