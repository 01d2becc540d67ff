"""The official `openai` client against kin serve, unchanged but for base_url.

Usage: python openai_client.py BASE_URL MODEL TEXT [TEXT ...]
Prints one JSON object: the vectors for the first text alone and for the whole list, each in float
and base64 encodings (the client's default asks for base64 and decodes it), plus usage.
"""
import base64
import json
import struct
import sys

import openai

base_url, model, texts = sys.argv[1], sys.argv[2], sys.argv[3:]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="kin-test-key-1", max_retries=0)


def as_floats(embedding):
    """A vector; asked for base64 explicitly, the client hands back the string as sent."""
    if isinstance(embedding, str):
        raw = base64.b64decode(embedding)
        return list(struct.unpack("<%df" % (len(raw) // 4), raw))
    return list(embedding)


def vectors(response):
    return [as_floats(d.embedding) for d in sorted(response.data, key=lambda d: d.index)]


single_float = client.embeddings.create(model=model, input=texts[0], encoding_format="float")
list_float = client.embeddings.create(model=model, input=texts, encoding_format="float")
single_default = client.embeddings.create(model=model, input=texts[0])
list_base64 = client.embeddings.create(model=model, input=texts, encoding_format="base64")
try:
    client.embeddings.create(model="no-such-model", input="x")
    unknown = None
except openai.NotFoundError as e:
    unknown = {"status": e.status_code, "code": e.code}
print(json.dumps({
    "single_float": vectors(single_float),
    "list_float": vectors(list_float),
    "single_default": vectors(single_default),
    "list_base64": vectors(list_base64),
    "usage": {"prompt_tokens": list_float.usage.prompt_tokens, "total_tokens": list_float.usage.total_tokens},
    "model": list_float.model,
    "unknown_model": unknown,
}))
