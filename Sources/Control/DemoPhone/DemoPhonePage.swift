// The demo web phone's page and style sheet (served as /phone/index.html and /phone/phone.css).

enum DemoPhonePage {
    static let html = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tandem demo phone</title>
<link rel="stylesheet" href="phone.css">
</head>
<body>
<main>
  <header>
    <h1>Tandem <span>demo phone</span></h1>
    <p id="registration" class="badge off">not registered</p>
  </header>

  <section id="account">
    <h2>Account</h2>
    <label>WebSocket URL <input id="ws" type="text" spellcheck="false" placeholder="ws://host:8080"></label>
    <label>User <input id="user" type="text" spellcheck="false" autocomplete="username"></label>
    <label>Password <input id="password" type="password" autocomplete="current-password"></label>
    <label>Domain <input id="domain" type="text" spellcheck="false" placeholder="the WebSocket host"></label>
    <label class="check"><input id="autoanswer" type="checkbox"> answer incoming calls at once</label>
    <div class="buttons">
      <button id="register">Register</button>
      <button id="unregister" disabled>Unregister</button>
    </div>
  </section>

  <section id="dialer">
    <h2>Call</h2>
    <div class="dial">
      <input id="number" type="text" inputmode="tel" spellcheck="false" placeholder="number, e.g. 2000">
      <button id="call" class="go" disabled>Call</button>
    </div>
    <p class="hint"><button id="testcall" disabled title="Calls echo: you should hear yourself, through the SIP side and back">Test call</button>
      hear yourself through Tandem (needs <code>test_endpoints</code> and the <code>echo</code> route)</p>
    <div id="incoming" hidden>
      <p>Incoming call from <strong id="caller"></strong></p>
      <button id="answer" class="go">Answer</button>
      <button id="decline" class="stop">Decline</button>
    </div>
    <div class="keypad" id="keypad">
      <button>1</button><button>2</button><button>3</button>
      <button>4</button><button>5</button><button>6</button>
      <button>7</button><button>8</button><button>9</button>
      <button>*</button><button>0</button><button>#</button>
    </div>
    <div class="buttons">
      <button id="hangup" class="stop" disabled>Hang up</button>
      <button id="mute" disabled>Mute</button>
      <button id="hold" disabled>Hold</button>
    </div>
  </section>

  <section id="panel">
    <h2>Call <span id="state" class="badge off">idle</span></h2>
    <p id="message" role="status"></p>
    <table>
      <tr><th>Peer</th><td id="s-peer">-</td></tr>
      <tr><th>Duration</th><td id="s-duration">-</td></tr>
      <tr><th>Codec</th><td id="s-codec">-</td></tr>
      <tr><th>Packets sent</th><td id="s-sent">-</td></tr>
      <tr><th>Packets received</th><td id="s-received">-</td></tr>
      <tr><th>Packets lost</th><td id="s-lost">-</td></tr>
      <tr><th>Jitter</th><td id="s-jitter">-</td></tr>
      <tr><th>Round-trip time</th><td id="s-rtt">-</td></tr>
      <tr><th>Audio level in</th><td><meter id="s-level" min="0" max="1" value="0"></meter></td></tr>
      <tr><th>DTMF sent</th><td id="s-dtmf">-</td></tr>
    </table>
  </section>

  <section id="log-section">
    <h2>SIP log</h2>
    <pre id="log"></pre>
  </section>
</main>
<audio id="remote" autoplay></audio>
<script src="phone.js"></script>
</body>
</html>

"""#

    static let css = #"""
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; background: #eef1f4; color: #1c2430; }
main { max-width: 920px; margin: 0 auto; padding: 16px; display: grid; gap: 14px;
       grid-template-columns: 1fr 1fr; }
header { grid-column: 1 / -1; display: flex; align-items: center; justify-content: space-between; }
h1 { margin: 0; font-size: 22px; } h1 span { font-weight: 400; color: #5b6775; }
h2 { margin: 0 0 10px; font-size: 16px; display: flex; gap: 8px; align-items: center; }
section { background: #fff; border-radius: 10px; padding: 14px; box-shadow: 0 1px 3px #0002; }
#log-section { grid-column: 1 / -1; }
label { display: block; margin-bottom: 8px; font-size: 13px; color: #4a5563; }
label input[type=text], label input[type=password] { display: block; width: 100%; margin-top: 2px; }
label.check { display: flex; gap: 6px; align-items: center; }
input[type=text], input[type=password] { padding: 7px 9px; border: 1px solid #c5ccd5; border-radius: 6px; font: inherit; }
button { padding: 7px 14px; border: 1px solid #b9c1cb; border-radius: 6px; background: #f6f8fa; font: inherit; cursor: pointer; }
button:disabled { opacity: .45; cursor: default; }
button.go { background: #1f883d; border-color: #1f883d; color: #fff; }
button.stop { background: #cf222e; border-color: #cf222e; color: #fff; }
button.on { background: #fff4c2; border-color: #d4a72c; }
.buttons { display: flex; gap: 8px; margin-top: 10px; flex-wrap: wrap; }
.dial { display: flex; gap: 8px; } .dial input { flex: 1; font-size: 18px; }
.hint { margin: 8px 0 0; font-size: 13px; color: #555; }
.hint button { margin-right: 6px; }
.keypad { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6px; margin-top: 10px; }
.keypad button { font-size: 18px; padding: 9px; }
#incoming { margin-top: 10px; padding: 10px; background: #e7f5ea; border-radius: 8px; }
#incoming p { margin: 0 0 8px; }
.badge { display: inline-block; margin: 0; padding: 2px 10px; border-radius: 999px; font-size: 13px; font-weight: 600; }
.badge.off { background: #e3e7ec; color: #4a5563; }
.badge.ok { background: #d4f3dc; color: #116329; }
.badge.busy { background: #fff1c2; color: #7a5200; }
.badge.bad { background: #ffdcd7; color: #a40e26; }
#message { min-height: 1.4em; margin: 0 0 8px; }
#message.bad { color: #a40e26; font-weight: 600; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th { text-align: left; font-weight: 500; color: #5b6775; padding: 3px 0; width: 45%; }
td { padding: 3px 0; }
meter { width: 100%; }
pre { margin: 0; max-height: 220px; overflow: auto; font-size: 11.5px; background: #f6f8fa; padding: 8px; border-radius: 6px; white-space: pre-wrap; word-break: break-all; }
@media (max-width: 700px) { main { grid-template-columns: 1fr; } }

"""#
}
