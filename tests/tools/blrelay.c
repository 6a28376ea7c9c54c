/*
 * blrelay: a TCP relay that cuts itself, for process tests of cut links.
 *
 *   blrelay LISTEN_PORT TARGET_PORT [CUT_AFTER_BYTES]
 *
 * Listens on 127.0.0.1:LISTEN_PORT and joins every accepted connection to a
 * new connection to 127.0.0.1:TARGET_PORT. With CUT_AFTER_BYTES it counts
 * the bytes carried towards the target; once that many have passed it
 * resets every connection (SO_LINGER 0, as a dropped line looks to both
 * ends) and exits 0. A test cut this way cuts at a byte count, not at a
 * moment, so a fast push cannot finish before the cut. Without it the relay
 * runs until killed. Exits 1 with a line on stderr when it cannot start.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RELAY_MAX_PAIRS 16

struct pair {
	int client;
	int target;
};

static struct pair s_pairs[RELAY_MAX_PAIRS];
static int s_npairs;

static int
s_listen(int port)
{
	struct sockaddr_in a;
	int fd, one = 1;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
s_connect(int port)
{
	struct sockaddr_in a;
	int fd;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Closes fd with a reset rather than an orderly end. */
static void
s_reset(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
}

static void
s_drop(int i)
{
	s_reset(s_pairs[i].client);
	s_reset(s_pairs[i].target);
	s_pairs[i] = s_pairs[--s_npairs];
}

/* Moves what is readable on from to to; returns bytes moved, -1 at end. */
static long
s_move(int from, int to)
{
	char buf[16384];
	ssize_t n, off, w;

	if ((n = read(from, buf, sizeof buf)) <= 0)
		return -1;
	for (off = 0; off < n; off += w)
		if ((w = write(to, buf + off, (size_t)(n - off))) <= 0)
			return -1;
	return n;
}

int
main(int argc, char **argv)
{
	struct pollfd pfd[1 + 2 * RELAY_MAX_PAIRS];
	long long carried = 0, cut_after = -1;
	int lfd, target_port, i, n;
	long moved;

	if (argc != 3 && argc != 4) {
		fprintf(stderr,
		    "usage: blrelay LISTEN_PORT TARGET_PORT "
		    "[CUT_AFTER_BYTES]\n");
		return 1;
	}
	target_port = atoi(argv[2]);
	if (argc == 4)
		cut_after = atoll(argv[3]);
	if ((lfd = s_listen(atoi(argv[1]))) < 0) {
		perror("blrelay: listen");
		return 1;
	}
	for (;;) {
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < s_npairs; i++) {
			pfd[1 + 2 * i].fd = s_pairs[i].client;
			pfd[2 + 2 * i].fd = s_pairs[i].target;
			pfd[1 + 2 * i].events = pfd[2 + 2 * i].events = POLLIN;
		}
		n = 1 + 2 * s_npairs;
		if (poll(pfd, (nfds_t)n, -1) < 0)
			continue;
		for (i = s_npairs - 1; i >= 0; i--) {
			moved = 0;
			if (pfd[1 + 2 * i].revents != 0) {
				moved = s_move(s_pairs[i].client,
				    s_pairs[i].target);
				if (moved > 0)
					carried += moved;
			}
			if (moved >= 0 && pfd[2 + 2 * i].revents != 0)
				moved = s_move(s_pairs[i].target,
					    s_pairs[i].client) < 0
				    ? -1
				    : 0;
			if (moved < 0)
				s_drop(i);
		}
		if (cut_after >= 0 && carried >= cut_after) {
			while (s_npairs > 0)
				s_drop(0);
			close(lfd);
			return 0;
		}
		if (pfd[0].revents & POLLIN) {
			int c = accept(lfd, NULL, NULL), t;

			if (c < 0)
				continue;
			if (s_npairs == RELAY_MAX_PAIRS ||
			    (t = s_connect(target_port)) < 0) {
				s_reset(c);
				continue;
			}
			s_pairs[s_npairs].client = c;
			s_pairs[s_npairs++].target = t;
		}
	}
}
