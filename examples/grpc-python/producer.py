"""The lab's producer.py over the broker's gRPC API: the same data types
and topics, each push a Publish call instead of a framed socket write."""

import argparse
import random
import sys
import time

import grpc

import broker_pb2
import broker_pb2_grpc
from values import to_value

text = ["hello", "bonjour", "salut", "hola", "ciao"]


class Queue:
    """What the lab's middleware JSONQueue did for a producer: publish on
    one topic."""

    def __init__(self, stub, topic):
        self.stub = stub
        self.topic = topic

    def push(self, value):
        ack = self.stub.Publish(broker_pb2.PublishRequest(topic=self.topic, value=to_value(value)))
        print(f"{self.topic} {value} seq={ack.seq} receivers={ack.receivers}", flush=True)


class Producer:
    def __init__(self, datatype, stub):
        self.type = datatype
        self.queue = [Queue(stub, f"/{self.type}")]
        if datatype == "currency":
            self.gen = self._currency
        elif datatype == "msg":
            self.gen = self._msg
        elif datatype == "telephony":
            self.queue = [Queue(stub, f"/{self.type}/orange"),
                          Queue(stub, f"/{self.type}/unite"),
                          Queue(stub, f"/{self.type}/moldcell")]
            self.gen = self._telephony

    @classmethod
    def datatypes(cls):
        return ["currency", "msg", "telephony"]

    def _currency(self):
        time.sleep(0.1)
        yield random.randint(0, 40)

    def _msg(self):
        time.sleep(0.2)
        yield random.choice(text)

    def _telephony(self):
        time.sleep(0.1)
        yield random.randint(0, 40)
        time.sleep(0.1)
        yield random.randint(0, 100)
        time.sleep(0.1)
        yield random.randint(10000, 11000)

    def run(self, length=10):
        for i in range(length):
            for queue, value in zip(self.queue, self.gen()):
                queue.push(value)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--type", help="type of producer: [currency, msg, telephony]", default="currency")
    parser.add_argument("--length", type=int, default=10, help="rounds to publish")
    parser.add_argument("--address", default="localhost:50051", help="the broker's --grpc address")
    args = parser.parse_args()

    if args.type not in Producer.datatypes():
        print("Error: not a valid producer type")
        sys.exit(1)

    with grpc.insecure_channel(args.address) as channel:
        Producer(args.type, broker_pb2_grpc.BrokerStub(channel)).run(args.length)
