"""Everything that changes tips. Import services from their modules:

- :mod:`.intake`: what tipsters do (submit, open with code and passphrase, answer);
- :mod:`.dialogue`: investigators reading a tip and writing to its tipster;
- :mod:`.work`: triage, assignment, outcomes, links, merging, rewards, templates;
- :mod:`.evidence`: viewing, downloading, exporting and transferring files (chain of custody);
- :mod:`.processing`: the worker's metadata record and preview of each file;
- :mod:`.inbound`: SMS and e-mail tips;
- :mod:`.keys`: re-encrypting everything under the newest key.
"""
