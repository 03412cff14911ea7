"""Python values to the broker's protobuf Value and back, losslessly:
int stays int, float stays float, dict keeps its order."""

import broker_pb2


def to_value(v):
    """The broker Value of a Python value (None, bool, int, float, str,
    list, tuple or dict with string keys)."""
    if v is None:
        return broker_pb2.Value(null_value=broker_pb2.NULL_VALUE)
    if isinstance(v, bool):
        return broker_pb2.Value(bool_value=v)
    if isinstance(v, int):
        return broker_pb2.Value(int_value=v)
    if isinstance(v, float):
        return broker_pb2.Value(double_value=v)
    if isinstance(v, str):
        return broker_pb2.Value(string_value=v)
    if isinstance(v, (list, tuple)):
        return broker_pb2.Value(list_value=broker_pb2.ValueList(items=[to_value(i) for i in v]))
    if isinstance(v, dict):
        entries = [broker_pb2.ValueEntry(key=k, value=to_value(i)) for k, i in v.items()]
        return broker_pb2.Value(map_value=broker_pb2.ValueMap(entries=entries))
    raise TypeError(f"no broker value for {type(v).__name__}")


def to_python(value):
    """The Python value of a broker Value."""
    kind = value.WhichOneof("kind")
    if kind is None or kind == "null_value":
        return None
    if kind == "list_value":
        return [to_python(i) for i in value.list_value.items]
    if kind == "map_value":
        return {e.key: to_python(e.value) for e in value.map_value.entries}
    return getattr(value, kind)
