// The /subscribe WebSocket (docs/network.md): follows one chain, and
// reconnects by itself (1 s, doubling to 8 s) after the connection is lost,
// e.g. by a server restart; after a reconnect the server sends the whole
// node list again.
export class ChainSubscription {
  /**
   * handlers: onChain(summary), onSnapshot(nodes) (the whole list, once
   * complete), onNodes(nodes) (changes), onRemoved(peerIds),
   * onBlocks(blocks) (optional), onState(state, sentence) with state "ok",
   * "waiting" or "error".
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.genesis = null;
    this.delay = 1000;
    this.snapshot = null;
    this.connect();
  }

  /** True while the WebSocket is open (the page is live). */
  get isOpen() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new WebSocket(`${scheme}//${location.host}/subscribe`);
    this.handlers.onState("waiting", "connecting to the live subscription…");
    this.socket.onopen = () => {
      this.delay = 1000;
      this.handlers.onState("ok", "live");
      if (this.genesis) this.socket.send(JSON.stringify({ subscribe: this.genesis }));
    };
    this.socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    this.socket.onclose = () => {
      this.snapshot = null;
      this.handlers.onState("error", `connection lost; reconnecting in ${Math.round(this.delay / 1000)} s…`);
      setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 8000);
    };
  }

  receive(message) {
    if (message.error) return this.handlers.onState("error", `the server refused: ${message.error}`);
    if (message.genesis_hash && message.genesis_hash !== this.genesis) return undefined;
    switch (message.type) {
      case "chain":
        if (message.chain.genesis_hash === this.genesis) this.handlers.onChain(message.chain);
        break;
      case "nodes":
        // A snapshot comes in parts (more: true until the last).
        if (message.snapshot) {
          this.snapshot = (this.snapshot || []).concat(message.nodes);
          if (!message.more) {
            this.handlers.onSnapshot(this.snapshot);
            this.snapshot = null;
          }
        } else {
          this.handlers.onNodes(message.nodes);
        }
        break;
      case "removed": this.handlers.onRemoved(message.peer_ids); break;
      case "blocks": this.handlers.onBlocks?.(message.blocks); break;
      default: break;
    }
    return undefined;
  }

  /** Follows `genesis` instead of the chain followed so far. */
  follow(genesis) {
    const open = this.socket.readyState === WebSocket.OPEN;
    if (open && this.genesis) this.socket.send(JSON.stringify({ unsubscribe: this.genesis }));
    this.genesis = genesis;
    this.snapshot = null;
    if (open && genesis) this.socket.send(JSON.stringify({ subscribe: genesis }));
  }
}
