# sshd.sh - private OpenSSH servers for a test: one per loopback address
# (127.0.0.2, 127.0.0.3, ...), each with a host key of its own, all on one
# free port.  root logs in with a key (PermitRootLogin prohibit-password),
# so that a test may chown.  An ssh_config maps the names web1.test,
# web2.test, ... to the addresses; a known_hosts file has their keys.
#
#   . "$(dirname "$0")/lib/env.sh"
#   . "$(dirname "$0")/lib/sshd.sh"
#   sshd_setup [N]       start N servers (3 by default) for web1.test ...
#   sshd_stop NAME       stop one (a host that is down)
#   sshd_start NAME      start it again
#   sshd_rekey NAME      give it a new host key (known_hosts keeps the old)
#   sshd_sessions NAME   how many sessions it has accepted
#   sshd_freeze NAME     stop (SIGSTOP) it and every session it serves: a
#                        host that no longer answers, connections open
#   sshd_thaw NAME       let them go on (SIGCONT)
#
# sshd_setup sets SSHD_DIR, SSH_PORT, SSH_CONFIG, SSH_KNOWN_HOSTS, SSH_KEY
# (the client key) and SSH_OPTS (for ssh/scp: -F SSH_CONFIG), and stops
# the servers when the test ends (at_exit).  Needs root: sshd's privilege
# separation, and chown.  Readiness is polled, never slept for.
#
#   SSHD   the sshd to run (/usr/sbin/sshd)

SSHD=${SSHD:-/usr/sbin/sshd}

# sshd_addr NAME: the address of webN.test, 127.0.0.(N+1).
sshd_addr() {
	_n=${1#web}
	_n=${_n%%.*}
	echo "127.0.0.$((_n + 1))"
}

sshd_config() {	# sshd_config NAME: write the server's configuration
	_d=$SSHD_DIR/$1
	cat > "$_d/sshd_config" <<EOF
Port $SSH_PORT
ListenAddress $(sshd_addr "$1")
HostKey $_d/host_key
PidFile $_d/sshd.pid
AuthorizedKeysFile $SSHD_DIR/authorized_keys/%u
# the keys are in the test's directory below /tmp (mode 1777)
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
AllowUsers root
MaxStartups 200
Subsystem sftp internal-sftp
LogLevel VERBOSE
# Debian's bash, run by sshd, reads the user's ~/.bashrc unless it is a
# shell below another (SHLVL): root's may start anything (pyenv, say),
# which costs every command of every session, and is not pki's to test.
SetEnv SHLVL=1
EOF
}

# sshd_count FILE TEXT: how many lines of FILE hold TEXT (0 if none).
sshd_count() {
	if [ -f "$1" ]; then grep -c "$2" "$1" || true; else echo 0; fi
}

# sshd_start NAME: start the server of NAME and wait until it listens.
sshd_start() {
	_d=$SSHD_DIR/$1
	_lines=$(sshd_count "$_d/log" 'Server listening')
	"$SSHD" -t -f "$_d/sshd_config" || return 1
	( exec "$SSHD" -D -f "$_d/sshd_config" -E "$_d/log" ) &
	echo $! > "$_d/pid"
	_i=0
	while [ "$(sshd_count "$_d/log" 'Server listening')" -le "$_lines" ]; do
		_i=$((_i + 1))
		if [ "$_i" -gt 250 ] || ! kill -0 "$(cat "$_d/pid")" 2>/dev/null; then
			echo "Bail out! sshd for $1 did not start: $(tail -3 "$_d/log")"
			exit 1
		fi
		sleep 0.02
	done
}

# sshd_stop NAME: stop the server of NAME and wait until it is gone.
sshd_stop() {
	_pid=$(cat "$SSHD_DIR/$1/pid" 2>/dev/null) || return 0
	kill "$_pid" 2>/dev/null || true
	_i=0
	while kill -0 "$_pid" 2>/dev/null; do
		_i=$((_i + 1))
		[ "$_i" -gt 250 ] && { kill -9 "$_pid" 2>/dev/null; break; }
		sleep 0.02
	done
	rm -f "$SSHD_DIR/$1/pid"
}

# sshd_tree NAME: the server's process id and those of all its
# descendants (sessions, their shells and commands).
sshd_tree() {
	_pids=$(cat "$SSHD_DIR/$1/pid")
	_all=$_pids
	while [ -n "$_pids" ]; do
		_pids=$(for _p in $_pids; do pgrep -P "$_p" || true; done)
		_all="$_all $_pids"
	done
	echo "$_all"
}

# sshd_freeze NAME: stop the server of NAME, then every process below it
# (the server first, so that no session starts in between).
sshd_freeze() {
	kill -STOP "$(cat "$SSHD_DIR/$1/pid")"
	# shellcheck disable=SC2046 # a list of process ids
	kill -STOP $(sshd_tree "$1")
}

# sshd_thaw NAME: let the server of NAME and its sessions go on.
sshd_thaw() {
	# shellcheck disable=SC2046 # a list of process ids
	kill -CONT $(sshd_tree "$1")
}

# sshd_rekey NAME: a new host key for NAME (restarted); known_hosts keeps
# the old one, so clients must refuse it.
sshd_rekey() {
	sshd_stop "$1"
	rm -f "$SSHD_DIR/$1/host_key" "$SSHD_DIR/$1/host_key.pub"
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/$1/host_key"
	sshd_start "$1"
}

# sshd_sessions NAME: the number of logins NAME has accepted.
sshd_sessions() {
	sshd_count "$SSHD_DIR/$1/log" 'Accepted publickey'
}

# sshd_known NAME: the known_hosts line of NAME's current key.
sshd_known() {
	echo "[$(sshd_addr "$1")]:$SSH_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/$1/host_key.pub")"
}

sshd_setup() {
	[ "$(id -u)" -eq 0 ] || skip_all "the sshd tests run as root (privilege separation, chown)"
	[ -x "$SSHD" ] || skip_all "no sshd ($SSHD)"
	[ -d /run/sshd ] || mkdir -m 0755 /run/sshd
	SSHD_DIR=$T/sshd
	SSH_CONFIG=$SSHD_DIR/ssh_config
	SSH_KNOWN_HOSTS=$SSHD_DIR/known_hosts
	SSH_KEY=$SSHD_DIR/client_key
	SSH_OPTS="-F $SSH_CONFIG"
	free_port SSH_PORT
	mkdir -p "$SSHD_DIR/authorized_keys"
	ssh-keygen -q -t ed25519 -N '' -f "$SSH_KEY"
	cp "$SSH_KEY.pub" "$SSHD_DIR/authorized_keys/root"
	: > "$SSH_KNOWN_HOSTS"
	: > "$SSH_CONFIG"
	_k=1
	while [ "$_k" -le "${1:-3}" ]; do
		_name=web$_k.test
		mkdir -p "$SSHD_DIR/$_name"
		ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/$_name/host_key"
		sshd_config "$_name"
		sshd_known "$_name" >> "$SSH_KNOWN_HOSTS"
		printf 'Host %s\n\tHostname %s\n' "$_name" "$(sshd_addr "$_name")" >> "$SSH_CONFIG"
		at_exit "sshd_stop $_name"
		sshd_start "$_name"
		_k=$((_k + 1))
	done
	cat >> "$SSH_CONFIG" <<EOF
Host *
	Port $SSH_PORT
	User root
	IdentityFile $SSH_KEY
	IdentitiesOnly yes
	UserKnownHostsFile $SSH_KNOWN_HOSTS
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
EOF
	export SSHD_DIR SSH_PORT SSH_CONFIG SSH_KNOWN_HOSTS SSH_KEY SSH_OPTS
}

# sshd_pki_conf SECONDS: $T/pki.conf (exported as PKI_CONF) that deploys
# over SSH to the servers of sshd_setup as root, 4 hosts at a time, each
# operation within SECONDS.
sshd_pki_conf() {
	cat > "$T/pki.conf" <<EOF
PKI_SSH_CONFIG=$SSH_CONFIG
PKI_SSH_KNOWN_HOSTS=$SSH_KNOWN_HOSTS
PKI_SSH_KEY=$SSH_KEY
PKI_SSH_USER=root
PKI_DEPLOY_JOBS=4
PKI_DEPLOY_TIMEOUT=$1
EOF
	PKI_CONF=$T/pki.conf
	export PKI_CONF
}
