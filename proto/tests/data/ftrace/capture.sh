#!/bin/bash
# How the pages here were captured (kernel 6.18, x86-64, as root):
#   mkfifo /tmp/pgcap/fifo
#   taskset -c 0 ./capture.sh busy          # 6 pages: a 300-byte marker (type_len 0), a 0.4 s gap (time extend)
#   LOST=1 taskset -c 0 ./capture.sh lost   # 8 KB buffer, overwrite: the first page has the lost-events flags
# header_page and the *.format files were identical in both runs: kept once, here.
# The text `trace` dump is taken before trace_pipe_raw is read (reading consumes).
set -eu
OUT=$1; mkdir -p $OUT
T=/sys/kernel/tracing
I=$T/instances/pagetest-$$
mkdir $I
echo 0 > $I/tracing_on
trap 'echo 0 > $I/tracing_on; rmdir $I' EXIT
echo mono > $I/trace_clock
echo $$ > $I/set_event_pid
echo 1 > $I/options/event-fork
echo 1 > $I/events/sched/sched_switch/enable
echo 1 > $I/events/raw_syscalls/enable
cat $I/events/header_page > $OUT/header_page
cat $I/events/sched/sched_switch/format > $OUT/sched_switch.format
cat $I/events/raw_syscalls/sys_enter/format > $OUT/sys_enter.format
cat $I/events/raw_syscalls/sys_exit/format > $OUT/sys_exit.format
cat $I/events/ftrace/print/format > $OUT/print.format
if [ "${LOST:-}" = 1 ]; then echo 8 > $I/buffer_size_kb; fi
cat $I/buffer_size_kb > $OUT/buffer_size_kb
echo > $I/trace
echo 1 > $I/tracing_on
if [ "${LOST:-}" = 1 ]; then
dd if=/dev/zero of=/dev/null bs=1 count=20000 status=none
else
for i in 1 2 3 4 5 6 7 8; do echo $i > /dev/null; done
printf '%300s\n' marker-of-300-bytes > $I/trace_marker
read -t 0.4 <> /tmp/pgcap/fifo || true
for i in 1 2 3 4 5 6 7 8; do echo $i > /dev/null; done
fi
echo 0 > $I/tracing_on
cat $I/trace > $OUT/trace.txt
cat $I/per_cpu/cpu0/stats > $OUT/stats.txt
n=0
while dd if=$I/per_cpu/cpu0/trace_pipe_raw of=$OUT/page$n.bin bs=4096 count=1 iflag=nonblock status=none 2>/dev/null && [ -s $OUT/page$n.bin ]; do
  n=$((n+1)); [ $n -lt 40 ] || break
done
rm -f $OUT/page$n.bin
echo pages=$n
