"""The lab's consumer.py over the broker's gRPC API: list the topics, then
subscribe and print every message, until interrupted (or --length
messages)."""

import argparse
import sys

import grpc

import broker_pb2
import broker_pb2_grpc
from values import to_python


class Consumer:
    def __init__(self, datatype, stub):
        self.type = datatype
        self.topic = "/" if datatype == "/" else f"/{datatype}"
        self.stub = stub

    @classmethod
    def datatypes(cls):
        return ["currency", "msg", "telephony", "/"]

    def run(self, length=None):
        topics = self.stub.List(broker_pb2.ListRequest()).topics
        print("topics:", " ".join(topics), flush=True)
        stream = self.stub.Subscribe(broker_pb2.SubscribeRequest(topic=self.topic))
        received = 0
        try:
            for event in stream:
                kind = event.WhichOneof("kind")
                if kind == "subscribed":
                    print(f"subscribed to {self.topic} as {event.subscribed.subscription}", flush=True)
                elif kind == "delivery":
                    d = event.delivery
                    print(d.topic, to_python(d.value), f"seq={d.seq}", flush=True)
                    received += 1
                    if length is not None and received >= length:
                        break
                elif kind == "gap":
                    print(f"missed {event.gap.topic} {event.gap.first}..{event.gap.last}", flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            # Cancelling the call ends the subscription, as the lab's
            # cancelSub did.
            stream.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--type", help="type of producer: [currency, msg, telephony,/]", default="currency")
    parser.add_argument("--length", type=int, default=None, help="stop after this many messages")
    parser.add_argument("--address", default="localhost:50051", help="the broker's --grpc address")
    args = parser.parse_args()

    if args.type not in Consumer.datatypes():
        print("Error: not a valid producer type")
        sys.exit(1)

    with grpc.insecure_channel(args.address) as channel:
        Consumer(args.type, broker_pb2_grpc.BrokerStub(channel)).run(args.length)
