/*
 * Running the frozen application: boot.py, then main.py, with the exit
 * status a shell would expect.
 *
 * shared/runtime/pyexec.c runs frozen modules too, but drops the value of
 * SystemExit; an app that is a batch job or a test needs it, so the
 * execution is done here: sys.exit(n) gives n, sys.exit() and a normal end
 * give 0, an uncaught exception prints its traceback and gives 1.
 */
#include "py/bc.h"
#include "py/builtin.h"
#include "py/compile.h"
#include "py/emitglue.h"
#include "py/frozenmod.h"
#include "py/mphal.h"
#include "py/objexcept.h"
#include "py/runtime.h"
#include "shared/readline/readline.h"
#include "shared/runtime/interrupt_char.h"

#include "app.h"

static int exit_status_of(mp_obj_t exc) {
    mp_obj_t value = mp_obj_exception_get_value(exc);
    if (value == mp_const_none) {
        return 0;
    }
    if (mp_obj_is_int(value)) {
        return (int)mp_obj_get_int(value);
    }
    // As CPython: any other value is printed and the status is 1.
    mp_obj_print_helper(&mp_plat_print, value, PRINT_STR);
    mp_print_str(&mp_plat_print, "\n");
    return 1;
}

// Run the script that load() makes into a function, with the exit status a
// shell would expect. load() runs inside the same exception handler, so a
// syntax error in a file on the disk is reported like any other.
static void run_script(mp_obj_t (*load)(const char *name), const char *name, int *status) {
    nlr_buf_t nlr;
    if (nlr_push(&nlr) == 0) {
        mp_obj_t module_fun = load(name);
        mp_hal_set_interrupt_char(CHAR_CTRL_C);
        mp_call_function_0(module_fun);
        mp_hal_set_interrupt_char(-1);
        mp_handle_pending(true);
        nlr_pop();
        *status = 0;
    } else {
        mp_hal_set_interrupt_char(-1);
        mp_handle_pending(false);
        mp_obj_t exc = MP_OBJ_FROM_PTR(nlr.ret_val);
        if (mp_obj_is_subclass_fast(MP_OBJ_FROM_PTR(mp_obj_get_type(exc)), MP_OBJ_FROM_PTR(&mp_type_SystemExit))) {
            *status = exit_status_of(exc);
        } else {
            mp_obj_print_exception(&mp_plat_print, exc);
            *status = 1;
        }
    }
}

static mp_obj_t load_frozen(const char *name) {
    void *frozen_data;
    int frozen_type;
    mp_find_frozen_module(name, &frozen_type, &frozen_data);
    const mp_frozen_module_t *frozen = frozen_data;
    mp_module_context_t *ctx = m_new_obj(mp_module_context_t);
    ctx->module.globals = mp_globals_get();
    ctx->constants = frozen->constants;
    return mp_make_function_from_proto_fun(frozen->proto_fun, ctx, NULL);
}

bool app_run_frozen(const char *name, int *status) {
    void *frozen_data;
    int frozen_type;
    mp_find_frozen_module(name, &frozen_type, &frozen_data);
    if (frozen_type != MP_FROZEN_MPY) {
        return false;
    }
    run_script(load_frozen, name, status);
    return true;
}

#if MICROPY_VFS
static mp_obj_t load_file(const char *name) {
    qstr source = qstr_from_str(name);
    mp_lexer_t *lex = mp_lexer_new_from_file(source);
    mp_store_global(MP_QSTR___file__, MP_OBJ_NEW_QSTR(source));
    mp_parse_tree_t tree = mp_parse(lex, MP_PARSE_FILE_INPUT);
    return mp_compile(&tree, source, false);
}

bool app_run_file(const char *name, int *status) {
    if (mp_import_stat(name) != MP_IMPORT_STAT_FILE) {
        return false;
    }
    run_script(load_file, name, status);
    return true;
}
#endif

void app_set_argv(const char *cmdline) {
    // sys.argv: "pyunik", then the words after a lone "--".
    mp_obj_list_append(mp_sys_argv, MP_OBJ_NEW_QSTR(MP_QSTR_pyunik));
    const char *p = cmdline;
    const char *start;
    size_t len;
    bool after_separator = false;
    while ((start = pvboot_cmdline_word(&p, &len)) != NULL) {
        if (after_separator) {
            mp_obj_list_append(mp_sys_argv, mp_obj_new_str(start, len));
        } else if (len == 2 && start[0] == '-' && start[1] == '-') {
            after_separator = true;
        }
    }
}
