/* For the static musl stub: gcc 12's libgcc_eh (used as libunwind.a) calls glibc's
 * _dl_find_object to find a PC's unwind tables; musl has no such function. This one walks the
 * loaded objects with dl_iterate_phdr, as older libgcc did. It also holds strong references to
 * the pthread functions libgcc_eh reaches through weak ones, so a static link keeps them
 * (otherwise unwinding jumps to address 0). See ../shared/notes/cross-build-facts.md. */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct dl_find_object {
    unsigned long long dlfo_flags;
    void *dlfo_map_start;
    void *dlfo_map_end;
    struct link_map *dlfo_link_map;
    void *dlfo_eh_frame;
    unsigned long long __dflo_reserved[7];
};

struct find_ctx {
    uintptr_t pc;
    struct dl_find_object *out;
    int found;
};

static int find_cb(struct dl_phdr_info *info, size_t size, void *data) {
    struct find_ctx *c = data;
    const ElfW(Phdr) *eh = NULL;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    int hit = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_LOAD) {
            uintptr_t s = info->dlpi_addr + p->p_vaddr, e = s + p->p_memsz;
            if (c->pc >= s && c->pc < e)
                hit = 1;
            if (s < lo)
                lo = s;
            if (e > hi)
                hi = e;
        } else if (p->p_type == PT_GNU_EH_FRAME) {
            eh = p;
        }
    }
    if (!hit || !eh)
        return 0;
    c->out->dlfo_flags = 0;
    c->out->dlfo_map_start = (void *)lo;
    c->out->dlfo_map_end = (void *)hi;
    c->out->dlfo_link_map = NULL;
    c->out->dlfo_eh_frame = (void *)(info->dlpi_addr + eh->p_vaddr);
    c->found = 1;
    return 1;
}

int _dl_find_object(void *pc, struct dl_find_object *result) {
    struct find_ctx c = {(uintptr_t)pc, result, 0};
    dl_iterate_phdr(find_cb, &c);
    return c.found ? 0 : -1;
}

void *const iupack_pthread_refs[] = {
    (void *)pthread_once,        (void *)pthread_mutex_lock,  (void *)pthread_mutex_unlock,
    (void *)pthread_key_create,  (void *)pthread_key_delete,  (void *)pthread_getspecific,
    (void *)pthread_setspecific,
};
