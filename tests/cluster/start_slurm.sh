#!/usr/bin/env bash
# Start a real single-node SLURM cluster (munge, slurmctld, slurmd) on this machine, for
# the cluster test. Installs Debian's slurm-wlm pieces if missing, writes slurm.conf with
# one fake GPU (a character device) so GPU jobs schedule on a CPU-only machine, starts the
# daemons without systemd and waits until the node is idle. Prints the state directory;
# tests/cluster/stop_slurm.sh stops what this started.
set -euo pipefail
STATE=${SLURM_TEST_DIR:-/tmp/mlpmf-slurm}

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
fi

mkdir -p "$STATE"/{spool,state,log} /etc/slurm /run/munge /var/log/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
fi

# A fake GPU: slurmd only needs a device file to count it; CUDA is never touched.
[ -e "$STATE/fake_gpu0" ] || mknod "$STATE/fake_gpu0" c 1 3

MARK="# written by mlpmf tests/cluster/start_slurm.sh"
if [ -e /etc/slurm/slurm.conf ] && ! grep -qxF "$MARK" /etc/slurm/slurm.conf; then
  echo "/etc/slurm/slurm.conf exists and is not ours: refusing to replace a real cluster's configuration" >&2
  exit 1
fi

host=$(hostname -s)
cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat > /etc/slurm/slurm.conf <<CONF
$MARK
ClusterName=mlpmf-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MinJobAge=86400
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$memory_mb Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
cat > /etc/slurm/gres.conf <<CONF
AutoDetect=off
NodeName=$host Name=gpu File=$STATE/fake_gpu0
CONF

pgrep -x slurmctld >/dev/null || slurmctld -c
pgrep -x slurmd >/dev/null || slurmd

for _ in $(seq 60); do
  if sinfo -h -o '%t' 2>/dev/null | grep -qx idle; then
    echo "$STATE"
    exit 0
  fi
  sleep 1
done
echo "SLURM node did not become idle; logs in $STATE/log" >&2
sinfo >&2 || true
exit 1
