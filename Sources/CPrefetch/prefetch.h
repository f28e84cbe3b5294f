// A cache prefetch hint (no effect on results): FleetSim asks for the next event's device while it handles the
// current one, so the memory latency of a million-device state overlaps with useful work.
#ifndef FLEETSTORM_PREFETCH_H
#define FLEETSTORM_PREFETCH_H

static inline void fleetstorm_prefetch(const void *address) { __builtin_prefetch(address, 1, 3); }

#endif
