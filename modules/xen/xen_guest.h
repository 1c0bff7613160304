/*
 * The Xen guest support shared by the xen module's files (and by drivers
 * such as the PV console, netfront and blkfront that build on it).
 */
#ifndef PYUNIK_XEN_GUEST_H
#define PYUNIK_XEN_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include <xen/xen.h>
#include <xen/event_channel.h>

#include "pvboot_driver.h"

// True once xen_init() found Xen and set up shared info and events.
bool xen_present(void);

// HVM parameters (HVM_PARAM_CONSOLE_PFN ...); 0 when Xen says no.
uint64_t xen_hvm_param(unsigned index);

// Event channels. Handlers run in interrupt context.
typedef void (*xen_evtchn_handler_t)(evtchn_port_t port, void *arg);
void xen_evtchn_bind(evtchn_port_t port, xen_evtchn_handler_t handler, void *arg);
void xen_evtchn_notify(evtchn_port_t port);

// Grant table (v1): give domain `domid` access to the page at `frame`.
// Returns a grant reference, or -1 when the table is full.
int xen_gnttab_grant(domid_t domid, unsigned long frame, bool readonly);
// Revoke a grant and free its reference: 0, or -1 when the backend still
// has the page mapped (GTF_reading/GTF_writing; it stays granted and the
// page must not be reused yet) or ref is not a live grant.
int xen_gnttab_end(int ref);
unsigned xen_gnttab_frames(void);

// Xenstore, synchronous: the reply's body is written into buf (NUL added).
// Returns its length, or -1 (with the error string, e.g. "ENOENT", in buf).
int xen_store_request(uint32_t type, const char *const *parts, size_t nparts, char *buf, size_t size);
// The same inside transaction tx_id (from XS_TRANSACTION_START; 0: none).
int xen_store_request_tx(uint32_t tx_id, uint32_t type, const char *const *parts, size_t nparts, char *buf,
    size_t size);
// Watch events that arrived (path\0token\0), oldest first; 0 when none.
int xen_store_next_event(char *buf, size_t size);
// Take watch events off the ring without waiting (between requests).
void xen_store_pump(void);
// A driver's watch: its events (matched by token) set `fired` instead of
// going to the queue above. Register it before sending XS_WATCH with its
// token (xenbus_watch does both); never unregistered (a driver's life).
typedef struct xen_store_watch {
    char token[48];
    volatile bool fired;
    struct xen_store_watch *next;
} xen_store_watch_t;
void xen_store_watch_register(xen_store_watch_t *w);
// Thread context, never inside a store request: true (once) when the watch
// fired since the last call. Takes what the store's interrupt announced
// off the ring first, so a driver's poll sees it without any polling timer.
bool xen_store_watch_fired(xen_store_watch_t *w);

// ---- xenbus: a front end's side of the device handshake (xenbus.c) ----

// XenbusState values (xen/io/xenbus.h).
#define XENBUS_STATE_INITIALISING (1)
#define XENBUS_STATE_INITWAIT (2)
#define XENBUS_STATE_INITIALISED (3)
#define XENBUS_STATE_CONNECTED (4)
#define XENBUS_STATE_CLOSING (5)
#define XENBUS_STATE_CLOSED (6)

// Read a xenstore node into buf (NUL-terminated); the length, or -1.
int xenbus_read(const char *path, char *buf, size_t size);
// An unsigned number from a node; `fallback` when absent or not a number.
unsigned long xenbus_read_ulong(const char *path, unsigned long fallback);
int xenbus_write(uint32_t tx_id, const char *path, const char *value);
// Start / end a transaction; end returns 0, 1 for EAGAIN (retry), -1.
uint32_t xenbus_transaction_start(void);
int xenbus_transaction_end(uint32_t tx_id, bool commit);
// For drivers' init (before Python runs: it takes the store's queued watch
// events). Wait (with a xenstore watch, the CPU resting between events) until the
// node `state_path` reads one of the states in `wanted` (a bit mask of
// 1 << state), or timeout_ms passes. Returns the state read last (0 when
// the node is absent).
int xenbus_wait_state(const char *state_path, unsigned wanted, uint64_t timeout_ms);
// dir + "/" + name into out (an empty string when it does not fit).
void xenbus_join(char *out, size_t size, const char *dir, const char *name);
// Nodes dir/name = text (or, when text is NULL, the decimal number), all in
// one transaction, retried while xenstored answers EAGAIN. True when written.
typedef struct {
    const char *name;
    const char *text;
    unsigned long number;
} xenbus_node_t;
bool xenbus_write_nodes(const char *dir, const xenbus_node_t *nodes, size_t n);
// Watch a device's backend state node for the rest of the domain's life
// (xenstored fires it once at once, then on every change): `w` gets a token
// of its own from `path`. False when xenstored refused the watch.
bool xenbus_watch_state(xen_store_watch_t *w, const char *state_path);
// The backend's state as the watch `w` on its node last saw it:
// XENBUS_STATE_CONNECTED while the watch has not fired, else the node read
// now (0 when it is gone). Thread context, never inside a store request.
int xenbus_watched_state(xen_store_watch_t *w, const char *state_path);
// Tell the backend this front end is Closed (after its backend left
// Connected): blkback and netback then let go of the rings and grants, and
// `xl block-detach` / `network-detach` complete at once.
void xenbus_front_closed(const char *front_path);
// A new unbound event channel for domain `remote`; 0 on failure.
evtchn_port_t xen_evtchn_alloc_unbound(domid_t remote);

#endif
