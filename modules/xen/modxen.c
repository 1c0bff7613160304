/*
 * `_xen`: the C side of the `xen` module (frozen xen.py wraps it).
 *
 *   _xen.present()                  True when running on Xen
 *   _xen.store_read(path) -> str    XS_READ; OSError(ENOENT ...) on error
 *   _xen.store_write(path, value)   XS_WRITE
 *   _xen.store_directory(path)      XS_DIRECTORY -> [names]
 *   _xen.store_watch(path, token)   XS_WATCH; _xen.store_unwatch(path, token)
 *   _xen.store_next_event()         (path, token) of a fired watch, or None
 *   _xen.gnttab_frames()            grant-table frames mapped
 */
#include <string.h>

#include "py/mperrno.h"
#include "py/objstr.h"
#include "py/runtime.h"

#include "xen_guest.h" // first: it sets the Xen interface version
#include <xen/io/xs_wire.h>


static char reply[XENSTORE_PAYLOAD_MAX + 1];

static int errno_of(const char *name) {
    static const struct {
        const char *name;
        int value;
    } table[] = {
        { "ENOENT", MP_ENOENT }, { "EACCES", MP_EACCES }, { "EINVAL", MP_EINVAL },
        { "EEXIST", MP_EEXIST }, { "EAGAIN", MP_EAGAIN }, { "ENOSPC", MP_ENOSPC },
        { "EBUSY", MP_EBUSY }, { "ENODEV", MP_ENODEV }, { "E2BIG", MP_E2BIG },
        { "ETIMEDOUT", MP_ETIMEDOUT },
    };
    for (size_t i = 0; i < MP_ARRAY_SIZE(table); i++) {
        if (strcmp(name, table[i].name) == 0) {
            return table[i].value;
        }
    }
    return MP_EIO;
}

static int request(uint32_t type, const char *const *parts, size_t nparts) {
    int n = xen_store_request(type, parts, nparts, reply, sizeof(reply));
    if (n < 0) {
        mp_raise_OSError(errno_of(reply));
    }
    return n;
}

static mp_obj_t xen_present_fn(void) {
    return mp_obj_new_bool(xen_present());
}
static MP_DEFINE_CONST_FUN_OBJ_0(xen_present_obj, xen_present_fn);

static mp_obj_t xen_store_read(mp_obj_t path_in) {
    const char *parts[] = { mp_obj_str_get_str(path_in) };
    int n = request(XS_READ, parts, 1);
    return mp_obj_new_str(reply, n);
}
static MP_DEFINE_CONST_FUN_OBJ_1(xen_store_read_obj, xen_store_read);

static mp_obj_t xen_store_write(mp_obj_t path_in, mp_obj_t value_in) {
    const char *parts[] = { mp_obj_str_get_str(path_in), mp_obj_str_get_str(value_in) };
    request(XS_WRITE, parts, 2);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(xen_store_write_obj, xen_store_write);

static mp_obj_t xen_store_directory(mp_obj_t path_in) {
    const char *parts[] = { mp_obj_str_get_str(path_in) };
    int n = request(XS_DIRECTORY, parts, 1);
    mp_obj_t list = mp_obj_new_list(0, NULL);
    for (int i = 0; i < n;) {
        size_t len = strlen(reply + i);
        if (len > 0) {
            mp_obj_list_append(list, mp_obj_new_str(reply + i, len));
        }
        i += len + 1;
    }
    return list;
}
static MP_DEFINE_CONST_FUN_OBJ_1(xen_store_directory_obj, xen_store_directory);

static mp_obj_t xen_store_watch(mp_obj_t path_in, mp_obj_t token_in) {
    const char *parts[] = { mp_obj_str_get_str(path_in), mp_obj_str_get_str(token_in) };
    request(XS_WATCH, parts, 2);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(xen_store_watch_obj, xen_store_watch);

static mp_obj_t xen_store_unwatch(mp_obj_t path_in, mp_obj_t token_in) {
    const char *parts[] = { mp_obj_str_get_str(path_in), mp_obj_str_get_str(token_in) };
    request(XS_UNWATCH, parts, 2);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(xen_store_unwatch_obj, xen_store_unwatch);

static mp_obj_t xen_store_next_event_fn(void) {
    xen_store_pump();
    int n = xen_store_next_event(reply, sizeof(reply) - 1);
    if (n <= 0) {
        return mp_const_none;
    }
    reply[n] = '\0';
    size_t path_len = strlen(reply);
    const char *token = path_len + 1 < (size_t)n ? reply + path_len + 1 : "";
    mp_obj_t pair[2] = { mp_obj_new_str(reply, path_len), mp_obj_new_str_from_cstr(token) };
    return mp_obj_new_tuple(2, pair);
}
static MP_DEFINE_CONST_FUN_OBJ_0(xen_store_next_event_obj, xen_store_next_event_fn);

static mp_obj_t xen_gnttab_frames_fn(void) {
    return MP_OBJ_NEW_SMALL_INT(xen_gnttab_frames());
}
static MP_DEFINE_CONST_FUN_OBJ_0(xen_gnttab_frames_obj, xen_gnttab_frames_fn);

static const mp_rom_map_elem_t xen_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR__xen) },
    { MP_ROM_QSTR(MP_QSTR_present), MP_ROM_PTR(&xen_present_obj) },
    { MP_ROM_QSTR(MP_QSTR_store_read), MP_ROM_PTR(&xen_store_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_store_write), MP_ROM_PTR(&xen_store_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_store_directory), MP_ROM_PTR(&xen_store_directory_obj) },
    { MP_ROM_QSTR(MP_QSTR_store_watch), MP_ROM_PTR(&xen_store_watch_obj) },
    { MP_ROM_QSTR(MP_QSTR_store_unwatch), MP_ROM_PTR(&xen_store_unwatch_obj) },
    { MP_ROM_QSTR(MP_QSTR_store_next_event), MP_ROM_PTR(&xen_store_next_event_obj) },
    { MP_ROM_QSTR(MP_QSTR_gnttab_frames), MP_ROM_PTR(&xen_gnttab_frames_obj) },
};
static MP_DEFINE_CONST_DICT(xen_module_globals, xen_module_globals_table);

const mp_obj_module_t mp_module__xen = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&xen_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR__xen, mp_module__xen);
