import sys,tempfile,statistics,cProfile,pstats,os
ck=sys.argv[1]
sys.path.insert(0,ck+'/benchmarks')
import vault_read as vr
from limen.config import Settings
root=tempfile.mkdtemp()
vault_id, item_ids, reader, service, db = vr._prepare(Settings(data_dir=root+"/s"), 100)
vr._in_process(service, reader, vault_id, item_ids, 500)
p=cProfile.Profile(); p.enable()
vr._in_process(service, reader, vault_id, item_ids, 4000)
p.disable(); p.dump_stats(f'/tmp/probe/rd-{os.path.basename(ck)}.prof')
