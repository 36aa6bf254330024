// One WebSocket to the hub for the open session. It remembers the seq of the last event it applied and
// reconnects with ?since=, so events that happened while it was away are replayed in order, none missed.
import { api, auth } from './api.js';

export class Realtime {
  /** @param {(event: {type: string, payload: any, seq?: number}) => void} onEvent */
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.socket = null;
    this.sessionId = null;
    this.lastSeq = null;
    this.attempt = 0;
    this.retryTimer = 0;
    this.pollTimer = 0;
    window.addEventListener('offline', () => this.#drop('offline'));
    window.addEventListener('online', () => this.#reconnectNow());
    auth.onToken((token) => this.#send('auth', { token }));
  }

  /** Follows a session (or none: then the user's events are polled over HTTP, as no socket can be opened). */
  follow(sessionId) {
    if (sessionId === this.sessionId && (this.socket || this.pollTimer)) return;
    this.sessionId = sessionId;
    this.#close();
    this.#connect();
  }

  stop() {
    this.sessionId = null;
    this.lastSeq = null;
    this.#close();
    this.onState('idle');
  }

  #connect() {
    clearTimeout(this.retryTimer);
    if (!navigator.onLine) { this.onState('offline'); return; }
    if (!this.sessionId) { this.#poll(); return; }
    if (!auth.token) return;
    this.onState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const since = this.lastSeq !== null ? `?since=${this.lastSeq}` : '';
    const socket = new WebSocket(`${scheme}://${location.host}/ws/${encodeURIComponent(this.sessionId)}${since}`);
    this.socket = socket;
    // The token goes in the first frame, not the address: addresses end up in logs.
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', payload: { token: auth.token } }));
    socket.onmessage = (e) => this.#receive(JSON.parse(e.data));
    socket.onclose = (e) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (e.code === 4401) {
        // The access token ended (or this device did): renew it, then come back.
        auth.refresh().then(() => this.#retry(), () => this.onState('idle'));
      } else if (e.code === 4404) {
        this.onState('idle');
      } else {
        this.#retry();
      }
    };
  }

  #receive(frame) {
    if (frame.type === 'connected') {
      this.attempt = 0;
      this.lastSeq ??= frame.lastSeq ?? 0;
      this.onState('connected');
      return;
    }
    if (frame.type === 'resync_required') this.lastSeq = frame.payload.lastSeq;
    if (typeof frame.seq === 'number') this.lastSeq = Math.max(this.lastSeq ?? 0, frame.seq);
    this.onEvent(frame);
  }

  async #poll() {
    this.onState('connected');
    try {
      let page;
      do {
        page = await api.get(`/api/sync?since=${this.lastSeq ?? 0}&limit=100`);
        for (const event of page.events) this.onEvent(event);
        this.lastSeq = page.lastSeq;
      } while (page.hasMore && !this.sessionId);
    } catch {
      this.onState('reconnecting');
    }
    if (!this.sessionId && auth.token) this.pollTimer = setTimeout(() => { this.pollTimer = 0; this.#poll(); }, 4_000);
  }

  #retry() {
    this.attempt++;
    this.onState('reconnecting');
    const wait = Math.min(10_000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    this.retryTimer = setTimeout(() => this.#connect(), wait);
  }

  #reconnectNow() {
    if (this.socket) return;
    this.attempt = Math.max(this.attempt, 1);
    this.#connect();
  }

  #drop(state) {
    this.#close();
    this.onState(state);
  }

  #close() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.pollTimer);
    this.pollTimer = 0;
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000);
  }

  #send(type, payload) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify({ type, payload }));
  }
}
