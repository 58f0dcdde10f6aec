/*
 * watch.c - the watchdog that bounds every operation on a host.
 *
 * libssh 0.10 bounds only the connection and the authentication by
 * SSH_OPTIONS_TIMEOUT: opening a channel, an SFTP request, a channel's
 * close wait for ever on a host that stopped answering (a stopped sshd
 * keeps its TCP connections open).  So a worker arms its host's watch
 * before each operation and disarms it after; one thread looks at every
 * armed watch ten times a second and cuts the connection of a host whose
 * deadline passed: shutdown(2) of its socket, after which the call that
 * waits fails at once, and so does every later one.
 *
 * The watch holds a descriptor of its own for the socket (a dup), so
 * that it never shuts down a descriptor that libssh closed and the
 * system gave to another host's connection.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "deploy.h"

static struct {
	pthread_mutex_t	 lock;
	pthread_once_t	 once;
	pthread_t	 thread;
	int		 started, stop;
	struct watch	*list;
} dog = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_ONCE_INIT, 0, 0, 0, NULL };

/* Cut the connection of every armed watch whose deadline passed. */
static void *
dog_loop(void *arg)
{
	const struct timespec tick = { 0, 100 * 1000 * 1000 };
	struct watch *w;
	double t;

	(void)arg;
	pthread_mutex_lock(&dog.lock);
	while (!dog.stop) {
		t = pki_now();
		for (w = dog.list; w != NULL; w = w->next)
			if (w->deadline > 0 && t >= w->deadline && !w->cut) {
				shutdown(w->fd, SHUT_RDWR);
				w->cut = 1;
			}
		pthread_mutex_unlock(&dog.lock);
		nanosleep(&tick, NULL);
		pthread_mutex_lock(&dog.lock);
	}
	pthread_mutex_unlock(&dog.lock);
	return NULL;
}

static void
dog_start(void)
{
	dog.started = pthread_create(&dog.thread, NULL, dog_loop, NULL) == 0;
}

int
watch_add(struct watch *w, int fd, long timeout)
{
	pthread_once(&dog.once, dog_start);
	if (!dog.started || fd < 0 ||
	    (w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return -1;
	w->timeout = timeout;
	w->deadline = 0;
	w->cut = 0;
	pthread_mutex_lock(&dog.lock);
	w->next = dog.list;
	dog.list = w;
	pthread_mutex_unlock(&dog.lock);
	return 0;
}

void
watch_remove(struct watch *w)
{
	struct watch **p;

	if (w->fd < 0)
		return;
	pthread_mutex_lock(&dog.lock);
	for (p = &dog.list; *p != NULL; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	pthread_mutex_unlock(&dog.lock);
	close(w->fd);
	w->fd = -1;
}

/* Set W's deadline to AT (0: none). */
static void
set_deadline(struct watch *w, double at)
{
	if (w->fd < 0)
		return;
	pthread_mutex_lock(&dog.lock);
	w->deadline = at;
	pthread_mutex_unlock(&dog.lock);
}

void
watch_arm(struct watch *w)
{
	set_deadline(w, pki_now() + (double)w->timeout);
}

void
watch_disarm(struct watch *w)
{
	set_deadline(w, 0);
}

/*
 * 1 if W's connection was cut, or is due to be: an operation that failed
 * after its deadline failed because the host did not answer in time,
 * whoever noticed first.  libssh (0.10.5 on) bounds an SFTP reply by the
 * session's timeout, the same seconds, and can give up a moment before
 * the dog's next look; the connection is cut here then, so that it is
 * never used again and its error says why.
 */
int
watch_cut(struct watch *w)
{
	int cut;

	pthread_mutex_lock(&dog.lock);
	if (!w->cut && w->fd >= 0 && w->deadline > 0 &&
	    pki_now() >= w->deadline) {
		shutdown(w->fd, SHUT_RDWR);
		w->cut = 1;
	}
	cut = w->cut;
	pthread_mutex_unlock(&dog.lock);
	return cut;
}

int
watch_closed(struct watch *w)
{
	char b;

	return w->fd >= 0 && recv(w->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void
watch_stop(void)
{
	if (!dog.started)
		return;
	pthread_mutex_lock(&dog.lock);
	dog.stop = 1;
	pthread_mutex_unlock(&dog.lock);
	pthread_join(dog.thread, NULL);
	dog.started = 0;
}
