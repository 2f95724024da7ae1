// Keygate's verify API as Express middleware (Node 18+: global fetch, AbortSignal.timeout).
//
//   KEYGATE_VERIFY_URL  https://<api id>.execute-api.<region>.amazonaws.com/api/v1/keys/verify/
//                       (locally http://127.0.0.1:9000/lambda-url/verify/)
//   KEYGATE_TOKEN       an admin credential (kga_…) with the role `verify`
//
//   app.get('/orders', requireKey({ scopes: ['orders:read'] }), (req, res) =>
//     res.json({ owner: req.apiKey.owner }));

const URL = process.env.KEYGATE_VERIFY_URL;
const TOKEN = process.env.KEYGATE_TOKEN;

function requireKey({ scopes = [], cost = 1 } = {}) {
  return async (req, res, next) => {
    const key = req.get('x-api-key');
    if (!key) {
      return res.status(403).json({ detail: 'API Key is missing. Send it in the X-API-KEY header.' });
    }
    let answer;
    try {
      const reply = await fetch(URL, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ key, scopes, cost }),
        signal: AbortSignal.timeout(2000),
      });
      // 401 here means our own KEYGATE_TOKEN is wrong, 503 that Keygate cannot answer:
      // neither is the client's fault.
      if (reply.status !== 200) throw new Error(`Keygate answered ${reply.status}`);
      answer = await reply.json();
    } catch (err) {
      console.error('key check failed:', err.message);
      return res.status(503).set('retry-after', '1').json({ detail: 'Retry in a few seconds.' });
    }
    const rate = answer.limits.find((l) => l.name === 'default');
    if (rate && rate.remaining !== null) {
      res.set({ 'ratelimit-limit': rate.limit, 'ratelimit-remaining': rate.remaining, 'ratelimit-reset': rate.reset });
    }
    if (!answer.valid) {
      const limited = answer.code === 'RATE_LIMITED' || answer.code === 'QUOTA_EXHAUSTED';
      return res.status(limited ? 429 : 403).json({ detail: answer.code });
    }
    req.apiKey = answer; // key_id, name, owner, scopes, meta, expires_at, limits, quota
    return next();
  };
}

module.exports = { requireKey };
