/*
 * A link emulator for bench:migrate --link: bridges two network interfaces (the link namespace's ends of two veth
 * pairs) and gives every frame, in each direction, the link's serialisation at a configured rate, a one-way delay
 * and a random loss, as `tc qdisc ... netem delay D rate R loss L` would (this machine's kernel has no sch_netem).
 *
 *   link_emulator IF_A IF_B RATE_BITS_PER_SEC ONE_WAY_DELAY_US LOSS_PER_MILLION QUEUE_BYTES SEED
 *
 * Frames are read and written with AF_PACKET sockets and PACKET_VNET_HDR, so TCP's GSO super-frames (up to 64 KiB)
 * pass whole with their offload header: a few thousand frames per second at 1 Gbit/s instead of 85 000. A
 * super-frame of n segments costs its n segments' headers on the wire and is lost with probability 1 - (1 - p)^n
 * (the same mean loss per segment, in bursts of one super-frame). A frame that would wait more than QUEUE_BYTES of
 * serialisation behind the ones before it is dropped (a router's tail drop). SIGTERM/SIGINT: it prints one JSON line
 * with its counters and exits 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/ethernet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME (65536 + 256)
#define RING 65536

struct frame {
  uint8_t *data;
  uint32_t len;
  uint64_t due_ns;
};

struct direction {
  int in, out;
  struct frame ring[RING];
  uint32_t head, tail; /* head: next to send; tail: next free */
  uint64_t last_departure_ns;
  uint64_t forwarded, bytes, lost, tail_dropped, send_failed;
};

static volatile sig_atomic_t stop = 0;
static uint64_t rate_bps, delay_ns, loss_ppm, queue_ns;
static uint64_t rng;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static int open_port(const char *ifname) {
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (fd < 0) {
    perror("socket(AF_PACKET)");
    exit(2);
  }
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) < 0) {
    perror("PACKET_VNET_HDR");
    exit(2);
  }
  if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) < 0) {
    perror("PACKET_IGNORE_OUTGOING");
    exit(2);
  }
  int buf = 32 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof buf);
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof addr);
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = (int)if_nametoindex(ifname);
  if (addr.sll_ifindex == 0) {
    fprintf(stderr, "link_emulator: no interface %s\n", ifname);
    exit(2);
  }
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    perror("bind");
    exit(2);
  }
  struct packet_mreq mreq;
  memset(&mreq, 0, sizeof mreq);
  mreq.mr_ifindex = addr.sll_ifindex;
  mreq.mr_type = PACKET_MR_PROMISC;
  setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq);
  return fd;
}

/* Bytes the frame occupies on the wire: every segment of a GSO super-frame carries the headers again. */
static uint64_t wire_bytes(const uint8_t *data, uint32_t len, uint64_t *segments) {
  const struct virtio_net_hdr *h = (const struct virtio_net_hdr *)data;
  uint32_t frame = len - (uint32_t)sizeof *h;
  *segments = 1;
  if (h->gso_type == VIRTIO_NET_HDR_GSO_NONE || h->gso_size == 0 || h->hdr_len == 0 || frame <= h->hdr_len) return frame;
  uint64_t payload = frame - h->hdr_len;
  *segments = (payload + h->gso_size - 1) / h->gso_size;
  return frame + (*segments - 1) * h->hdr_len;
}

static void receive(struct direction *d, uint64_t now) {
  for (;;) {
    static uint8_t scratch[MAX_FRAME];
    uint32_t next_tail = (d->tail + 1) % RING;
    ssize_t n = recv(d->in, scratch, MAX_FRAME, 0);
    if (n <= 0) return;
    uint8_t *buf = malloc((size_t)n);
    if (!buf) return;
    memcpy(buf, scratch, (size_t)n);
    uint64_t segments;
    uint64_t bytes = wire_bytes(buf, (uint32_t)n, &segments);
    if (loss_ppm > 0) {
      /* Lost when any of its segments is: P = 1 - (1 - p)^segments. */
      double keep = 1.0;
      for (uint64_t s = 0; s < segments; s++) keep *= 1.0 - (double)loss_ppm / 1e6;
      if ((double)(next_random() % 1000000000ull) / 1e9 >= keep) {
        d->lost++;
        free(buf);
        continue;
      }
    }
    uint64_t start = d->last_departure_ns > now ? d->last_departure_ns : now;
    if (start - now > queue_ns || next_tail == d->head) {
      d->tail_dropped++;
      free(buf);
      continue;
    }
    uint64_t departure = start + (rate_bps > 0 ? bytes * 8ull * 1000000000ull / rate_bps : 0);
    d->last_departure_ns = departure;
    d->ring[d->tail] = (struct frame){ .data = buf, .len = (uint32_t)n, .due_ns = departure + delay_ns };
    d->tail = next_tail;
  }
}

static void transmit(struct direction *d, uint64_t now) {
  while (d->head != d->tail && d->ring[d->head].due_ns <= now) {
    struct frame *f = &d->ring[d->head];
    if (send(d->out, f->data, f->len, 0) < 0) {
      if (errno == EAGAIN || errno == ENOBUFS) return; /* try again on the next wake-up */
      d->send_failed++;
    } else {
      d->forwarded++;
      d->bytes += f->len - sizeof(struct virtio_net_hdr);
    }
    free(f->data);
    d->head = (d->head + 1) % RING;
  }
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: link_emulator IF_A IF_B RATE_BITS_PER_SEC ONE_WAY_DELAY_US LOSS_PER_MILLION QUEUE_BYTES SEED\n");
    return 2;
  }
  rate_bps = strtoull(argv[3], NULL, 10);
  delay_ns = strtoull(argv[4], NULL, 10) * 1000ull;
  loss_ppm = strtoull(argv[5], NULL, 10);
  uint64_t queue_bytes = strtoull(argv[6], NULL, 10);
  queue_ns = rate_bps > 0 ? queue_bytes * 8ull * 1000000000ull / rate_bps : UINT64_MAX;
  rng = strtoull(argv[7], NULL, 10) | 1;
  prctl(PR_SET_TIMERSLACK, 1UL);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  static struct direction ab, ba;
  int a = open_port(argv[1]), b = open_port(argv[2]);
  ab.in = a;
  ab.out = b;
  ba.in = b;
  ba.out = a;
  printf("{\"ready\":true}\n");
  fflush(stdout);
  struct pollfd fds[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
  while (!stop) {
    uint64_t now = now_ns();
    uint64_t next = UINT64_MAX;
    if (ab.head != ab.tail && ab.ring[ab.head].due_ns < next) next = ab.ring[ab.head].due_ns;
    if (ba.head != ba.tail && ba.ring[ba.head].due_ns < next) next = ba.ring[ba.head].due_ns;
    struct timespec timeout = { .tv_sec = 0, .tv_nsec = 100000000 };
    if (next != UINT64_MAX) {
      uint64_t wait = next > now ? next - now : 0;
      timeout.tv_sec = (time_t)(wait / 1000000000ull);
      timeout.tv_nsec = (long)(wait % 1000000000ull);
    }
    int r = ppoll(fds, 2, &timeout, NULL);
    if (r < 0 && errno != EINTR) {
      perror("ppoll");
      return 1;
    }
    now = now_ns();
    receive(&ab, now);
    receive(&ba, now);
    now = now_ns();
    transmit(&ab, now);
    transmit(&ba, now);
  }
  printf("{\"forward\":{\"frames\":%llu,\"bytes\":%llu,\"lost\":%llu,\"tailDropped\":%llu,\"sendFailed\":%llu},"
         "\"backward\":{\"frames\":%llu,\"bytes\":%llu,\"lost\":%llu,\"tailDropped\":%llu,\"sendFailed\":%llu}}\n",
         (unsigned long long)ab.forwarded, (unsigned long long)ab.bytes, (unsigned long long)ab.lost, (unsigned long long)ab.tail_dropped,
         (unsigned long long)ab.send_failed, (unsigned long long)ba.forwarded, (unsigned long long)ba.bytes, (unsigned long long)ba.lost,
         (unsigned long long)ba.tail_dropped, (unsigned long long)ba.send_failed);
  fflush(stdout);
  return 0;
}
