/*
 * network.LAN: the wired interfaces, as on MicroPython's boards with
 * Ethernet (stm32, mimxrt). network.LAN() is the first NIC, LAN(n) the
 * n-th. active(), isconnected(), status(), ipconfig() (addr4, gw4, dhcp4,
 * mac ...), ifconfig() and config('mac') work as documented there.
 */
#include <string.h>

#include "py/mperrno.h"
#include "py/runtime.h"
#include "extmod/modnetwork.h"
#include "shared/netutils/netutils.h"

#include "lwip/dhcp.h"
#include "lwip/netif.h"

#include "pyunik_netif.h"

struct netif *pyunik_netif_get(size_t index);
size_t pyunik_netif_count(void);

typedef struct {
    mp_obj_base_t base;
    size_t index;
} network_lan_obj_t;

static struct netif *lan_netif(mp_obj_t self_in) {
    network_lan_obj_t *self = MP_OBJ_TO_PTR(self_in);
    struct netif *netif = pyunik_netif_get(self->index);
    if (netif == NULL) {
        mp_raise_OSError(MP_ENODEV);
    }
    return netif;
}

static pyunik_nic_t *lan_nic(mp_obj_t self_in) {
    return lan_netif(self_in)->state;
}

static void network_lan_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    network_lan_obj_t *self = MP_OBJ_TO_PTR(self_in);
    struct netif *netif = pyunik_netif_get(self->index);
    if (netif == NULL) {
        mp_printf(print, "<LAN%u absent>", (unsigned)self->index);
        return;
    }
    const uint8_t *ip = (const uint8_t *)&netif->ip_addr;
    mp_printf(print, "<LAN%u %s link=%s ip=%u.%u.%u.%u>", (unsigned)self->index,
        ((pyunik_nic_t *)netif->state)->name, netif_is_link_up(netif) ? "up" : "down",
        ip[0], ip[1], ip[2], ip[3]);
}

static mp_obj_t network_lan_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 1, false);
    mp_int_t index = n_args > 0 ? mp_obj_get_int(args[0]) : 0;
    if (index < 0 || (size_t)index >= pyunik_netif_count()) {
        mp_raise_msg_varg(&mp_type_OSError, MP_ERROR_TEXT("no network interface %d (the VM has %d)"),
            (int)index, (int)pyunik_netif_count());
    }
    network_lan_obj_t *self = mp_obj_malloc(network_lan_obj_t, type);
    self->index = (size_t)index;
    return MP_OBJ_FROM_PTR(self);
}

static mp_obj_t network_lan_active(size_t n_args, const mp_obj_t *args) {
    struct netif *netif = lan_netif(args[0]);
    if (n_args == 1) {
        return mp_obj_new_bool(netif_is_up(netif));
    }
    if (mp_obj_is_true(args[1])) {
        netif_set_up(netif);
    } else {
        netif_set_down(netif);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(network_lan_active_obj, 1, 2, network_lan_active);

static mp_obj_t network_lan_isconnected(mp_obj_t self_in) {
    struct netif *netif = lan_netif(self_in);
    return mp_obj_new_bool(netif_is_up(netif) && netif_is_link_up(netif) && !ip4_addr_isany_val(*netif_ip4_addr(netif)));
}
static MP_DEFINE_CONST_FUN_OBJ_1(network_lan_isconnected_obj, network_lan_isconnected);

// status(): the link state as the Ethernet boards report it (0 down, 1 up,
// 3 up with an address); status('dropped'): frames the stack refused.
static mp_obj_t network_lan_status(size_t n_args, const mp_obj_t *args) {
    struct netif *netif = lan_netif(args[0]);
    if (n_args == 1) {
        if (!netif_is_link_up(netif)) {
            return MP_OBJ_NEW_SMALL_INT(0);
        }
        return MP_OBJ_NEW_SMALL_INT(ip4_addr_isany_val(*netif_ip4_addr(netif)) ? 1 : 3);
    }
    if (mp_obj_str_get_qstr(args[1]) == MP_QSTR_dropped) {
        uint32_t pyunik_netif_dropped(void);
        return mp_obj_new_int_from_uint(pyunik_netif_dropped());
    }
    mp_raise_ValueError(MP_ERROR_TEXT("unknown status param"));
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(network_lan_status_obj, 1, 2, network_lan_status);

static mp_obj_t mac_bytes(mp_obj_t self_in) {
    return mp_obj_new_bytes(lan_nic(self_in)->mac, 6);
}

static mp_obj_t network_lan_ipconfig(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    if (n_args == 2 && kwargs->used == 0 && mp_obj_str_get_qstr(args[1]) == MP_QSTR_mac) {
        return mac_bytes(args[0]);
    }
    return mod_network_nic_ipconfig(lan_netif(args[0]), n_args - 1, args + 1, kwargs);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_lan_ipconfig_obj, 1, network_lan_ipconfig);

static mp_obj_t network_lan_ifconfig(size_t n_args, const mp_obj_t *args) {
    return mod_network_nic_ifconfig(lan_netif(args[0]), n_args - 1, args + 1);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(network_lan_ifconfig_obj, 1, 2, network_lan_ifconfig);

static mp_obj_t network_lan_config(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    if (kwargs->used != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("no settable parameters"));
    }
    if (n_args != 2) {
        mp_raise_TypeError(MP_ERROR_TEXT("must query one param"));
    }
    switch (mp_obj_str_get_qstr(args[1])) {
        case MP_QSTR_mac:
            return mac_bytes(args[0]);
        case MP_QSTR_mtu:
            return MP_OBJ_NEW_SMALL_INT(lan_netif(args[0])->mtu);
        default:
            mp_raise_ValueError(MP_ERROR_TEXT("unknown config param"));
    }
}
static MP_DEFINE_CONST_FUN_OBJ_KW(network_lan_config_obj, 1, network_lan_config);

static const mp_rom_map_elem_t network_lan_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_active), MP_ROM_PTR(&network_lan_active_obj) },
    { MP_ROM_QSTR(MP_QSTR_isconnected), MP_ROM_PTR(&network_lan_isconnected_obj) },
    { MP_ROM_QSTR(MP_QSTR_status), MP_ROM_PTR(&network_lan_status_obj) },
    { MP_ROM_QSTR(MP_QSTR_ipconfig), MP_ROM_PTR(&network_lan_ipconfig_obj) },
    { MP_ROM_QSTR(MP_QSTR_ifconfig), MP_ROM_PTR(&network_lan_ifconfig_obj) },
    { MP_ROM_QSTR(MP_QSTR_config), MP_ROM_PTR(&network_lan_config_obj) },
};
static MP_DEFINE_CONST_DICT(network_lan_locals_dict, network_lan_locals_dict_table);

MP_DEFINE_CONST_OBJ_TYPE(
    network_lan_type,
    MP_QSTR_LAN,
    MP_TYPE_FLAG_NONE,
    make_new, network_lan_make_new,
    print, network_lan_print,
    locals_dict, &network_lan_locals_dict
    );
