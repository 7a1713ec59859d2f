/* Avro binary decoding driven by a program compiled from a schema (infra/serde/avro_native.py).
 *
 * The program is a tree of Python lists, one per schema node: [opcode, arguments...].
 * decode(program, data, start) walks it over the bytes and returns the datum the pure
 * Python readers of infra/serde/avro_inline.py return (same values, same ValueError
 * messages), about ten times faster. Every read is bounds-checked; nesting goes through
 * Py_EnterRecursiveCall, so a deep Value is a RecursionError, never a crashed stack.
 *
 * Built by infra/serde/build_native.py with the C compiler Python was built with; the
 * SOURCE_SHA256 macro ties the built module to this exact file.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>

#ifndef SOURCE_SHA256
#define SOURCE_SHA256 "unknown"
#endif

enum {
    OP_NULL = 0, OP_BOOLEAN = 1, OP_LONG = 2, OP_FLOAT = 3, OP_DOUBLE = 4, OP_BYTES = 5,
    OP_STRING = 6, OP_INSTANT = 7, OP_DECIMAL = 8, OP_UNION = 9, OP_RECORD = 10,
    OP_ENUM = 11, OP_ARRAY = 12, OP_MAP = 13, OP_FIXED = 14, OP_VALUE = 15,
};

/* The Value node: [OP_VALUE, null, boolean, long, double, string, decimal, list, object, Decimal] */
enum { V_NULL = 1, V_BOOLEAN, V_LONG, V_DOUBLE, V_STRING, V_DECIMAL, V_LIST, V_OBJECT, V_TYPE };

typedef struct {
    const unsigned char *data;
    Py_ssize_t len;
    Py_ssize_t pos;
} Reader;

static PyObject *EPOCH; /* 1970-01-01T00:00:00+00:00 */

static PyObject *read_node(PyObject *node, Reader *r);

static void *truncated(void) {
    PyErr_SetString(PyExc_ValueError, "the data ends inside the record");
    return NULL;
}

static int read_long(Reader *r, int64_t *out) {
    uint64_t number = 0;
    int shift = 0;
    for (;;) {
        if (r->pos >= r->len) {
            truncated();
            return -1;
        }
        unsigned char byte = r->data[r->pos++];
        if (shift == 63 && byte > 1) {
            PyErr_SetString(PyExc_ValueError, "a varint longer than 64 bits");
            return -1;
        }
        number |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            break;
        }
        shift += 7;
        if (shift > 63) {
            PyErr_SetString(PyExc_ValueError, "a varint longer than 64 bits");
            return -1;
        }
    }
    *out = (int64_t)((number >> 1) ^ (~(number & 1) + 1));
    return 0;
}

/* A length-prefixed run of bytes: its start in the data and its size. */
static int read_span(Reader *r, const unsigned char **start, Py_ssize_t *size) {
    int64_t length;
    if (read_long(r, &length) < 0) {
        return -1;
    }
    if (length < 0 || length > (int64_t)(r->len - r->pos)) {
        PyErr_Format(PyExc_ValueError, "a length of %lld at byte %zd runs past the data",
                     (long long)length, r->pos);
        return -1;
    }
    *start = r->data + r->pos;
    *size = (Py_ssize_t)length;
    r->pos += (Py_ssize_t)length;
    return 0;
}

static PyObject *read_string(Reader *r) {
    const unsigned char *start;
    Py_ssize_t size;
    if (read_span(r, &start, &size) < 0) {
        return NULL;
    }
    return PyUnicode_DecodeUTF8((const char *)start, size, "strict");
}

/* The item count of the next block (a negative count is followed by the block's size). */
static int read_count(Reader *r, int64_t *count) {
    if (read_long(r, count) < 0) {
        return -1;
    }
    if (*count < 0) {
        int64_t size;
        *count = -*count;
        if (read_long(r, &size) < 0) {
            return -1;
        }
    }
    if (*count > (int64_t)(r->len - r->pos)) { /* every item takes a byte at least */
        PyErr_Format(PyExc_ValueError, "a block of %lld items at byte %zd runs past the data",
                     (long long)*count, r->pos);
        return -1;
    }
    return 0;
}

static long arg_long(PyObject *node, Py_ssize_t index) {
    return PyLong_AsLong(PyList_GET_ITEM(node, index));
}

static PyObject *read_instant(Reader *r) {
    int64_t millis;
    if (read_long(r, &millis) < 0) {
        return NULL;
    }
    int64_t days = millis / 86400000, rest = millis % 86400000;
    if (rest < 0) {
        rest += 86400000;
        days -= 1;
    }
    if (days > 999999999 || days < -999999999) {
        PyErr_SetString(PyExc_OverflowError, "date value out of range");
        return NULL;
    }
    PyObject *delta = PyDelta_FromDSU((int)days, (int)(rest / 1000), (int)(rest % 1000) * 1000);
    if (delta == NULL) {
        return NULL;
    }
    PyObject *moment = PyNumber_Add(EPOCH, delta);
    Py_DECREF(delta);
    return moment;
}

static PyObject *read_items(PyObject *item, Reader *r, int keyed) {
    PyObject *items = keyed ? PyDict_New() : PyList_New(0);
    int64_t count;
    if (items == NULL) {
        return NULL;
    }
    if (read_count(r, &count) < 0) {
        goto fail;
    }
    while (count) {
        for (int64_t i = 0; i < count; i++) {
            PyObject *key = NULL;
            if (keyed && (key = read_string(r)) == NULL) {
                goto fail;
            }
            PyObject *each = read_node(item, r);
            if (each == NULL) {
                Py_XDECREF(key);
                goto fail;
            }
            int failed = keyed ? PyDict_SetItem(items, key, each) : PyList_Append(items, each);
            Py_XDECREF(key);
            Py_DECREF(each);
            if (failed < 0) {
                goto fail;
            }
        }
        if (read_count(r, &count) < 0) {
            goto fail;
        }
    }
    return items;
fail:
    Py_DECREF(items);
    return NULL;
}

static PyObject *read_value(PyObject *node, Reader *r) {
    if (r->pos >= r->len) {
        return truncated();
    }
    long kind = r->data[r->pos++];
    if (kind == arg_long(node, V_STRING)) {
        return read_string(r);
    }
    if (kind == arg_long(node, V_LONG)) {
        int64_t number;
        return read_long(r, &number) < 0 ? NULL : PyLong_FromLongLong(number);
    }
    if (kind == arg_long(node, V_NULL)) {
        Py_RETURN_NONE;
    }
    if (kind == arg_long(node, V_BOOLEAN)) {
        if (r->pos >= r->len) {
            return truncated();
        }
        unsigned char byte = r->data[r->pos];
        if (byte > 1) {
            PyErr_Format(PyExc_ValueError, "boolean byte %d at %zd", byte, r->pos);
            return NULL;
        }
        r->pos++;
        return PyBool_FromLong(byte);
    }
    if (kind == arg_long(node, V_DOUBLE)) {
        if (r->len - r->pos < 8) {
            return truncated();
        }
        double number = PyFloat_Unpack8((const char *)r->data + r->pos, 1);
        r->pos += 8;
        return number == -1.0 && PyErr_Occurred() ? NULL : PyFloat_FromDouble(number);
    }
    if (kind == arg_long(node, V_DECIMAL)) {
        PyObject *digits = read_string(r);
        if (digits == NULL) {
            return NULL;
        }
        PyObject *amount = PyObject_CallOneArg(PyList_GET_ITEM(node, V_TYPE), digits);
        Py_DECREF(digits);
        return amount;
    }
    if (kind == arg_long(node, V_LIST) || kind == arg_long(node, V_OBJECT)) {
        if (Py_EnterRecursiveCall(" while decoding a nested Avro value")) {
            return NULL;
        }
        PyObject *nested = read_items(node, r, kind == arg_long(node, V_OBJECT));
        Py_LeaveRecursiveCall();
        return nested;
    }
    PyErr_Format(PyExc_ValueError, "Value branch tag %ld at byte %zd", kind, r->pos - 1);
    return NULL;
}

static PyObject *read_record(PyObject *fields, Reader *r) {
    Py_ssize_t size = PyList_GET_SIZE(fields);
    PyObject *record = _PyDict_NewPresized(size);
    if (record == NULL) {
        return NULL;
    }
    if (Py_EnterRecursiveCall(" while decoding a nested Avro record")) {
        Py_DECREF(record);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *field = PyList_GET_ITEM(fields, i); /* (name, node) */
        PyObject *value = read_node(PyTuple_GET_ITEM(field, 1), r);
        if (value == NULL || PyDict_SetItem(record, PyTuple_GET_ITEM(field, 0), value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(record);
            Py_LeaveRecursiveCall();
            return NULL;
        }
        Py_DECREF(value);
    }
    Py_LeaveRecursiveCall();
    return record;
}

static PyObject *read_node(PyObject *node, Reader *r) {
    switch (arg_long(node, 0)) {
    case OP_STRING:
        return read_string(r);
    case OP_LONG: {
        int64_t number;
        return read_long(r, &number) < 0 ? NULL : PyLong_FromLongLong(number);
    }
    case OP_UNION: {
        if (r->pos >= r->len) {
            return truncated();
        }
        long tag = r->data[r->pos], null_tag = arg_long(node, 1) << 1;
        if (tag == null_tag) {
            r->pos++;
            Py_RETURN_NONE;
        }
        if (tag == ((1 - arg_long(node, 1)) << 1)) {
            r->pos++;
            return read_node(PyList_GET_ITEM(node, 2), r);
        }
        PyErr_Format(PyExc_ValueError, "union branch tag %ld at byte %zd", tag, r->pos);
        return NULL;
    }
    case OP_RECORD:
        return read_record(PyList_GET_ITEM(node, 1), r);
    case OP_VALUE:
        return read_value(node, r);
    case OP_INSTANT:
        return read_instant(r);
    case OP_MAP:
    case OP_ARRAY: {
        if (Py_EnterRecursiveCall(" while decoding a nested Avro container")) {
            return NULL;
        }
        PyObject *items = read_items(PyList_GET_ITEM(node, 1), r, arg_long(node, 0) == OP_MAP);
        Py_LeaveRecursiveCall();
        return items;
    }
    case OP_NULL:
        Py_RETURN_NONE;
    case OP_BOOLEAN: {
        if (r->pos >= r->len) {
            return truncated();
        }
        unsigned char byte = r->data[r->pos];
        if (byte > 1) {
            PyErr_Format(PyExc_ValueError, "boolean byte %d at %zd", byte, r->pos);
            return NULL;
        }
        r->pos++;
        return PyBool_FromLong(byte);
    }
    case OP_FLOAT:
    case OP_DOUBLE: {
        int width = arg_long(node, 0) == OP_DOUBLE ? 8 : 4;
        if (r->len - r->pos < width) {
            return truncated();
        }
        const char *at = (const char *)r->data + r->pos;
        double number = width == 8 ? PyFloat_Unpack8(at, 1) : PyFloat_Unpack4(at, 1);
        r->pos += width;
        return number == -1.0 && PyErr_Occurred() ? NULL : PyFloat_FromDouble(number);
    }
    case OP_BYTES: {
        const unsigned char *start;
        Py_ssize_t size;
        if (read_span(r, &start, &size) < 0) {
            return NULL;
        }
        return PyBytes_FromStringAndSize((const char *)start, size);
    }
    case OP_DECIMAL: { /* [OP_DECIMAL, unscaled bytes -> Decimal] */
        const unsigned char *start;
        Py_ssize_t size;
        if (read_span(r, &start, &size) < 0) {
            return NULL;
        }
        PyObject *raw = PyBytes_FromStringAndSize((const char *)start, size);
        if (raw == NULL) {
            return NULL;
        }
        PyObject *amount = PyObject_CallOneArg(PyList_GET_ITEM(node, 1), raw);
        Py_DECREF(raw);
        return amount;
    }
    case OP_ENUM: { /* [OP_ENUM, symbols] */
        int64_t index;
        PyObject *symbols = PyList_GET_ITEM(node, 1);
        if (read_long(r, &index) < 0) {
            return NULL;
        }
        if (index < 0 || index >= PyList_GET_SIZE(symbols)) {
            PyErr_Format(PyExc_ValueError, "enum index %lld is not one of %zd symbols",
                         (long long)index, PyList_GET_SIZE(symbols));
            return NULL;
        }
        PyObject *symbol = PyList_GET_ITEM(symbols, (Py_ssize_t)index);
        Py_INCREF(symbol);
        return symbol;
    }
    case OP_FIXED: { /* [OP_FIXED, size] */
        long size = arg_long(node, 1);
        if (r->len - r->pos < size) {
            PyErr_Format(PyExc_ValueError, "fixed(%ld) at byte %zd runs past the data", size,
                         r->pos);
            return NULL;
        }
        PyObject *fixed = PyBytes_FromStringAndSize((const char *)r->data + r->pos, size);
        r->pos += size;
        return fixed;
    }
    default:
        PyErr_Format(PyExc_SystemError, "unknown Avro program opcode %ld", arg_long(node, 0));
        return NULL;
    }
}

static PyObject *decode(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyList_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "decode(program: list, data: bytes, start: int)");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[2]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Reader r = {(const unsigned char *)PyBytes_AS_STRING(args[1]), PyBytes_GET_SIZE(args[1]), start};
    if (start < 0 || start > r.len) {
        PyErr_Format(PyExc_ValueError, "start %zd is outside the data", start);
        return NULL;
    }
    PyObject *datum = read_node(args[0], &r);
    if (datum != NULL && r.pos != r.len) {
        Py_DECREF(datum);
        PyErr_Format(PyExc_ValueError, "%zd byte(s) follow the record", r.len - r.pos);
        return NULL;
    }
    return datum;
}

static PyMethodDef methods[] = {
    {"decode", (PyCFunction)(void (*)(void))decode, METH_FASTCALL,
     "decode(program, data, start): the datum the program reads from data[start:], to its end."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_avro_native", "Avro decoding driven by a compiled schema program.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__avro_native(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    EPOCH = PyDateTimeAPI->DateTime_FromDateAndTime(1970, 1, 1, 0, 0, 0, 0,
                                                     PyDateTime_TimeZone_UTC,
                                                     PyDateTimeAPI->DateTimeType);
    if (EPOCH == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL || PyModule_AddStringConstant(m, "SOURCE_SHA256", SOURCE_SHA256) < 0) {
        Py_XDECREF(m);
        return NULL;
    }
    return m;
}
