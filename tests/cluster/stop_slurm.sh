#!/usr/bin/env bash
# Stop the daemons tests/cluster/start_slurm.sh started.
pkill -x slurmd || true
pkill -x slurmctld || true
pkill -x munged || true
exit 0
