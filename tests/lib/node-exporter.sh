# node-exporter.sh - a private prometheus-node-exporter on 127.0.0.1 with
# only its textfile collector, reading the *.prom files of a directory.
#
#   node_exporter_start DIR   starts it (stopped when the test ends) and
#                             waits until it answers; sets NODE_EXPORTER_URL
#   node_exporter_scrape      its /metrics on stdout
#
#   NODE_EXPORTER   the command (/usr/bin/prometheus-node-exporter)
# shellcheck shell=sh

NODE_EXPORTER=${NODE_EXPORTER:-/usr/bin/prometheus-node-exporter}

node_exporter_start() {
	if [ ! -x "$NODE_EXPORTER" ]; then
		# In CI (make deps installs it) its absence is a failure.
		[ -n "${CI:-}" ] && { echo "Bail out! no $NODE_EXPORTER"; exit 1; }
		skip_all "no $NODE_EXPORTER (Debian prometheus-node-exporter; make deps)"
	fi
	free_port NODE_EXPORTER_PORT
	NODE_EXPORTER_URL=http://127.0.0.1:$NODE_EXPORTER_PORT/metrics
	"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$NODE_EXPORTER_PORT" \
		--collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$1" \
		>"$T/node-exporter.log" 2>&1 &
	_ne_pid=$!
	at_exit "kill $_ne_pid"
	_n=0
	until curl -fs -o /dev/null "$NODE_EXPORTER_URL"; do
		if ! kill -0 "$_ne_pid" 2>/dev/null || [ "$_n" -ge 100 ]; then
			echo "Bail out! node_exporter did not start"
			sed 's/^/# /' "$T/node-exporter.log"
			exit 1
		fi
		sleep 0.1
		_n=$((_n + 1))
	done
}

node_exporter_scrape() {
	curl -fsS "$NODE_EXPORTER_URL"
}
