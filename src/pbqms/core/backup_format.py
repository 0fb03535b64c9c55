"""The backup's serialization format: Django's JSON with full-precision times.

Django's JSON encoder cuts datetimes to milliseconds; the change log hashes the full
microsecond value, so a backup must keep every digit for the chain to verify after a
restore. Registered as ``pbqmsjson`` in ``SERIALIZATION_MODULES``."""

from __future__ import annotations

import datetime as dt

from django.core.serializers.json import Deserializer as JSONDeserializer
from django.core.serializers.json import DjangoJSONEncoder
from django.core.serializers.json import Serializer as JSONSerializer


class FullPrecisionEncoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, dt.datetime | dt.time):
            value = o.isoformat()
            return value[:-6] + "Z" if value.endswith("+00:00") else value
        return super().default(o)


class Serializer(JSONSerializer):
    def _init_options(self):
        super()._init_options()
        self.json_kwargs["cls"] = FullPrecisionEncoder


Deserializer = JSONDeserializer
