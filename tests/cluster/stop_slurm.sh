#!/usr/bin/env bash
# Stop the daemons tests/cluster/start_slurm.sh started and remove the configuration it
# wrote: with SLURM installed, a slurm.conf whose controller is down makes every
# scontrol call (and so every snakemake start, through the executor plugin) wait ~10 s.
pkill -x slurmd || true
pkill -x slurmctld || true
pkill -x munged || true
MARK="# written by mlpmf tests/cluster/start_slurm.sh"
if [ -e /etc/slurm/slurm.conf ] && grep -qxF "$MARK" /etc/slurm/slurm.conf; then
  rm -f /etc/slurm/slurm.conf /etc/slurm/gres.conf
fi
exit 0
